/// A small binary floating-point format (fp16, bf16, fp8, fp6, fp4) described by its exponent and
/// mantissa widths, its bias and how it spends codes on Inf and NaN. One generic, exact encoder and
/// decoder serve all of them; it is the scalar reference that faster paths are tested against.
public struct MiniFloatFormat: Sendable, Equatable, CustomStringConvertible {
    /// How a format represents non-finite values.
    public enum Specials: Sendable, Equatable {
        /// IEEE 754 style: the all-ones exponent holds Inf (mantissa 0) and NaN (mantissa != 0).
        case ieee
        /// "fn" (finite + NaN): no Inf; only the all-ones magnitude is NaN (fp8 E4M3FN).
        case finiteAndNaN
        /// "fnuz": no Inf, no negative zero; the negative-zero code is the single NaN.
        case finiteAndNaNUnsignedZero
        /// Finite only (fp6, fp4): no Inf, no NaN.
        case finiteOnly
    }

    /// What encoding does with a finite value beyond the largest finite one, or with an infinity.
    public enum Overflow: Sendable {
        /// Clamp to the largest finite value of the right sign (what quantizers want).
        case saturate
        /// What the format itself does, bit-exact with `ml_dtypes`: Inf where the format has it,
        /// otherwise NaN; finite-only formats saturate because they have nothing else.
        case formatDefault
    }

    public let name: String
    public let exponentBits: Int
    public let mantissaBits: Int
    public let bias: Int
    public let specials: Specials

    public var bitWidth: Int { 1 + exponentBits + mantissaBits }
    var signBit: UInt32 { 1 << UInt32(exponentBits + mantissaBits) }
    var magnitudeMask: UInt32 { signBit - 1 }
    var mantissaMask: UInt32 { (1 << UInt32(mantissaBits)) - 1 }
    var maxExponentField: UInt32 { (1 << UInt32(exponentBits)) - 1 }

    /// The code (without sign) of the largest finite magnitude.
    public var maxFiniteMagnitude: UInt32 {
        switch specials {
        case .ieee: (maxExponentField << UInt32(mantissaBits)) - 1
        case .finiteAndNaN: magnitudeMask - 1
        case .finiteAndNaNUnsignedZero, .finiteOnly: magnitudeMask
        }
    }

    public var maxFinite: Float { decode(maxFiniteMagnitude) }

    public var description: String { name }

    public static let fp16 = MiniFloatFormat(name: "fp16", exponentBits: 5, mantissaBits: 10, bias: 15, specials: .ieee)
    public static let bf16 = MiniFloatFormat(name: "bf16", exponentBits: 8, mantissaBits: 7, bias: 127, specials: .ieee)
    public static let fp8E4M3 = MiniFloatFormat(
        name: "fp8_e4m3", exponentBits: 4, mantissaBits: 3, bias: 7, specials: .finiteAndNaN)
    public static let fp8E5M2 = MiniFloatFormat(
        name: "fp8_e5m2", exponentBits: 5, mantissaBits: 2, bias: 15, specials: .ieee)
    public static let fp8E4M3FNUZ = MiniFloatFormat(
        name: "fp8_e4m3fnuz", exponentBits: 4, mantissaBits: 3, bias: 8, specials: .finiteAndNaNUnsignedZero)
    public static let fp8E5M2FNUZ = MiniFloatFormat(
        name: "fp8_e5m2fnuz", exponentBits: 5, mantissaBits: 2, bias: 16, specials: .finiteAndNaNUnsignedZero)
    public static let fp6E2M3 = MiniFloatFormat(
        name: "fp6_e2m3", exponentBits: 2, mantissaBits: 3, bias: 1, specials: .finiteOnly)
    public static let fp6E3M2 = MiniFloatFormat(
        name: "fp6_e3m2", exponentBits: 3, mantissaBits: 2, bias: 3, specials: .finiteOnly)
    public static let fp4E2M1 = MiniFloatFormat(
        name: "fp4_e2m1", exponentBits: 2, mantissaBits: 1, bias: 1, specials: .finiteOnly)

    public static let all: [MiniFloatFormat] = [
        .fp16, .bf16, .fp8E4M3, .fp8E5M2, .fp8E4M3FNUZ, .fp8E5M2FNUZ, .fp6E2M3, .fp6E3M2, .fp4E2M1,
    ]

    /// The exact value of `code` (only the low `bitWidth` bits are read).
    public func decode(_ code: UInt32) -> Float {
        let negative = code & signBit != 0
        let magnitude = code & magnitudeMask
        switch specials {
        case .ieee where magnitude >> UInt32(mantissaBits) == maxExponentField:
            if magnitude & mantissaMask == 0 { return negative ? -.infinity : .infinity }
            return .nan
        case .finiteAndNaN where magnitude == magnitudeMask:
            return .nan
        case .finiteAndNaNUnsignedZero where negative && magnitude == 0:
            return .nan
        default:
            break
        }
        let exponentField = Int(magnitude >> UInt32(mantissaBits))
        let mantissa = Double(magnitude & mantissaMask)
        let value: Double
        if exponentField == 0 {
            value = mantissa * Self.pow2(1 - bias - mantissaBits)
        } else {
            value = (Double(1 << mantissaBits) + mantissa) * Self.pow2(exponentField - bias - mantissaBits)
        }
        return Float(negative ? -value : value)
    }

    /// Encodes `x` with round-to-nearest, ties-to-even. NaN becomes the format's NaN (a quiet NaN
    /// with the input's sign for IEEE formats); finite-only formats have no NaN, and give negative
    /// zero like `ml_dtypes`, so callers must reject NaN before they get here.
    public func encode(_ x: Float, overflow: Overflow = .formatDefault) -> UInt32 {
        let negative = x.sign == .minus
        let sign: UInt32 = negative ? signBit : 0
        if x.isNaN { return nanCode(sign: sign) }
        if x.isInfinite { return overflowCode(sign: sign, overflow) }
        if x == 0 { return specials == .finiteAndNaNUnsignedZero ? 0 : sign }

        // Through Double so that fp32 subnormals have a normalized exponent.
        let magnitude = Double(x.magnitude)
        let exponent = Int(magnitude.exponent)
        let minNormalExponent = 1 - bias
        let quantumExponent = max(exponent, minNormalExponent) - mantissaBits
        let steps = (magnitude * Self.pow2(-quantumExponent)).rounded(.toNearestOrEven)
        let code: Int
        if exponent < minNormalExponent {
            // Subnormal range: `steps` counts quanta directly, and 2^M steps is the smallest normal.
            code = Int(steps)
        } else {
            // A carry out of the mantissa (steps == 2^(M+1)) lands in the exponent field by itself.
            code = ((exponent + bias) << mantissaBits) + Int(steps) - (1 << mantissaBits)
        }
        if code > Int(maxFiniteMagnitude) { return overflowCode(sign: sign, overflow) }
        if code == 0 && specials == .finiteAndNaNUnsignedZero { return 0 }
        return sign | UInt32(code)
    }

    /// Clamps to ±max before encoding: the "satfinite" conversion quantizers use.
    public func encodeSaturating(_ x: Float) -> UInt32 { encode(x, overflow: .saturate) }

    func nanCode(sign: UInt32) -> UInt32 {
        switch specials {
        case .ieee: sign | (maxExponentField << UInt32(mantissaBits)) | (1 << UInt32(mantissaBits - 1))
        case .finiteAndNaN: sign | magnitudeMask
        case .finiteAndNaNUnsignedZero: signBit
        case .finiteOnly: signBit
        }
    }

    func overflowCode(sign: UInt32, _ overflow: Overflow) -> UInt32 {
        if overflow == .saturate { return sign | maxFiniteMagnitude }
        switch specials {
        case .ieee: return sign | (maxExponentField << UInt32(mantissaBits))
        case .finiteAndNaN: return sign | magnitudeMask
        case .finiteAndNaNUnsignedZero: return signBit
        case .finiteOnly: return sign | maxFiniteMagnitude
        }
    }

    static func pow2(_ exponent: Int) -> Double { Double(sign: .plus, exponent: exponent, significand: 1) }
}
