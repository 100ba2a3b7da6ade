/// Where scales are shared.
public enum Granularity: Equatable, Sendable, CustomStringConvertible {
    /// One scale for the whole tensor.
    case tensor
    /// One scale per index along `axis` (0 = output channels of a linear weight).
    case channel(axis: Int)
    /// One scale per `size` consecutive elements along the last dimension.
    case group(size: Int)

    public var description: String {
        switch self {
        case .tensor: "tensor"
        case .channel(let axis): "channel(axis \(axis))"
        case .group(let size): "group(\(size))"
        }
    }
}

/// Linear (uniform affine) quantization, r = S(q - Z): the bit width, symmetric or asymmetric, and
/// the granularity of S and Z.
///
/// - Symmetric: signed codes in [-2^(b-1), 2^(b-1) - 1], Z = 0, S = absmax / (2^(b-1) - 1), so the
///   most negative code is never produced by round-to-nearest and the grid is symmetric.
/// - Asymmetric: unsigned codes in [0, 2^b - 1], the range widened to include 0,
///   S = (max - min) / (2^b - 1), Z = round(-min / S) kept inside [0, 2^b - 1].
public struct LinearScheme: Equatable, Sendable {
    public let bits: Int
    public let symmetric: Bool
    public let granularity: Granularity
    /// How each range is chosen (docs/RECIPES.md): only group and axis-0 channel scales clip.
    public let clipping: ClippingMethod
    public let rounding: RoundingMethod
    /// Fixed point: every scale is rounded up to a power of two, 2^-n, so integer hardware
    /// rescales with shifts (rounding up keeps the whole range representable).
    public let powerOfTwoScales: Bool
    /// Two-level scales (VS-Quant, double quantization): group scales stored as unsigned integers
    /// of this many bits under one F32 scale per row. Nil: group scales stored as they are.
    public let groupScaleBits: Int?

    public init(
        bits: Int, symmetric: Bool, granularity: Granularity, clipping: ClippingMethod = .minmax,
        rounding: RoundingMethod = .nearest,
        powerOfTwoScales: Bool = false, groupScaleBits: Int? = nil
    ) throws {
        if let groupScaleBits {
            guard case .group = granularity else {
                throw QuantError.invalidScheme("two-level scales (scale_bits) need granularity group", field: "scale_bits")
            }
            guard (2...8).contains(groupScaleBits) else {
                throw QuantError.invalidScheme("scale_bits must be 2 to 8, got \(groupScaleBits)", field: "scale_bits")
            }
            guard !powerOfTwoScales else {
                throw QuantError.invalidScheme("scale_bits and power-of-two scales cannot be combined", field: "scale_bits")
            }
        }
        guard (2...8).contains(bits) else { throw QuantError.invalidScheme("bits must be 2 to 8, got \(bits)", field: "bits") }
        if case .group(let size) = granularity, size < 1 {
            throw QuantError.invalidScheme("group size must be positive, got \(size)", field: "group_size")
        }
        switch (clipping, granularity) {
        case (.minmax, _), (_, .group), (_, .channel(axis: 0)): break
        default:
            throw QuantError.invalidScheme(
                "clipping \(clipping.name) needs granularity group or channel on axis 0 (tensor and other axes use minmax)",
                field: "clipping")
        }
        if case .percentile(let p) = clipping, !(p > 50 && p <= 100) {
            throw QuantError.invalidScheme("percentile must be above 50 and at most 100, got \(p)", field: "clipping")
        }
        self.bits = bits
        self.symmetric = symmetric
        self.granularity = granularity
        self.clipping = clipping
        self.rounding = rounding
        self.powerOfTwoScales = powerOfTwoScales
        self.groupScaleBits = groupScaleBits
    }

    /// The fixed-point format Qm.n of codes under scale 2^-n: m integer bits (sign excluded for
    /// signed codes), n fraction bits, m + n = bits (- 1 when signed). Nil unless `scale` is a
    /// power of two.
    public func fixedPointFormat(scale: Float) -> String? {
        guard scale > 0, scale.isFinite, scale.significandBitPattern == 0, scale.isNormal else { return nil }
        let n = -Int(scale.exponent)
        return "Q\(bits - (symmetric ? 1 : 0) - n).\(n)"
    }

    public var qmin: Int32 { symmetric ? -(1 << (bits - 1)) : 0 }
    public var qmax: Int32 { symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1 }
    /// Codes are two's complement bytes when symmetric, unsigned bytes otherwise.
    public var signedCodes: Bool { symmetric }
}

/// Errors of QuantCore: a code for programs and a message that says what to change.
public enum QuantError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What is wrong, and the recipe field (under `weights`) that says it.
    case invalidScheme(String, field: String? = nil)
    case invalidShape(String)
    case nonFinite(String)
    case kernel(String)

    public var description: String {
        switch self {
        case .invalidScheme(let m, _): "invalid scheme: \(m)"
        case .invalidShape(let m): "invalid shape: \(m)"
        case .nonFinite(let m): "non-finite input: \(m)"
        case .kernel(let m): "kernel: \(m)"
        }
    }
}
