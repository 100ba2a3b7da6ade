import ModelFormats

/// Element formats of `method: float`: fp8 with one F32 scale per tensor or per output channel.
public enum FloatElement: String, Sendable, CaseIterable {
    case e4m3 = "fp8-e4m3"
    case e5m2 = "fp8-e5m2"

    public var format: MiniFloatFormat { self == .e4m3 ? .fp8E4M3 : .fp8E5M2 }
    /// The safetensors dtype the codes are stored in.
    public var dtype: DType { self == .e4m3 ? .f8E4M3 : .f8E5M2 }
}

/// Element formats of `method: mx` (OCP Microscaling v1.0): blocks of 32 along the last dimension
/// share one E8M0 scale 2^E; value = 2^E x element.
public enum MXElement: String, Sendable, CaseIterable {
    case fp8 = "mxfp8"
    case fp6E3M2 = "mxfp6-e3m2"
    case fp6E2M3 = "mxfp6-e2m3"
    case fp4 = "mxfp4"
    case int8 = "mxint8"

    public static let blockSize = 32

    /// The element's minifloat format (nil for MXINT8).
    public var format: MiniFloatFormat? {
        switch self {
        case .fp8: .fp8E4M3
        case .fp6E3M2: .fp6E3M2
        case .fp6E2M3: .fp6E2M3
        case .fp4: .fp4E2M1
        case .int8: nil
        }
    }

    public var bits: Int {
        switch self {
        case .fp8, .int8: 8
        case .fp6E3M2, .fp6E2M3: 6
        case .fp4: 4
        }
    }

    /// The exponent of the element's largest power of two (emax_elem of the OCP spec).
    public var emax: Int {
        switch self {
        case .fp8: 8
        case .fp6E3M2: 4
        case .fp6E2M3, .fp4: 2
        case .int8: 0
        }
    }

    /// How the codes are stored: one byte per element for the 8-bit formats, packed rows (least
    /// significant bit first, as linear codes) for FP6 and FP4.
    public var codeDType: DType {
        switch self {
        case .fp8: .f8E4M3
        case .int8: .i8
        default: .u8
        }
    }

    /// Bits per weight including the shared 8-bit scale of each block of 32.
    public var bitsPerWeight: Double { Double(bits) + 8.0 / Double(Self.blockSize) }

    /// The element code of `x` (already divided by the block scale): round to nearest, ties to
    /// even, saturating at the element's largest finite value. MXINT8 is x / 2^-6 rounded and
    /// clamped to [-127, 127] (symmetric; -128 is never produced).
    public func encode(_ x: Float) -> UInt8 {
        guard let format else {
            let steps = (x * 64).rounded(.toNearestOrEven)
            return UInt8(bitPattern: Int8(Swift.min(Swift.max(steps, -127), 127)))
        }
        return UInt8(truncatingIfNeeded: format.encodeSaturating(x))
    }

    public func decode(_ code: UInt8) -> Float {
        guard let format else { return Float(Int8(bitPattern: code)) / 64 }
        return format.decode(UInt32(code))
    }
}

/// The scalar reference of MX quantization (one block at a time).
public enum MXQuantizer {
    /// The block's shared exponent: floor(log2(amax)) - emax_elem, clamped to E8M0's [-127, 127];
    /// an all-zero block gets the smallest scale, 2^-127.
    public static func sharedExponent(amax: Float, element: MXElement) -> Int {
        guard amax > 0, amax.isFinite else { return -127 }
        // Through Double so that fp32 subnormals have their true exponent.
        return Swift.min(Swift.max(Int(Double(amax).exponent) - element.emax, -127), 127)
    }

    /// Quantizes one block (up to 32 values): returns the E8M0 scale code and writes one element
    /// code per value into `codes`, and the reconstruction into `reconstructed`.
    @discardableResult
    public static func quantize(
        _ block: UnsafeBufferPointer<Float>, element: MXElement, codes: UnsafeMutableBufferPointer<UInt8>,
        reconstructed: UnsafeMutableBufferPointer<Float>? = nil
    ) -> UInt8 {
        var amax: Float = 0
        for v in block { amax = Swift.max(amax, v.magnitude) }
        let exponent = sharedExponent(amax: amax, element: element)
        // Multiplying by 2^-E only moves the exponent (|x| < 2^(E + emax + 1) keeps it finite); it
        // can round only deep in fp32's subnormals, far below any element's smallest step.
        let inverse = Float(sign: .plus, exponent: -exponent, significand: 1)
        let scale = Float(sign: .plus, exponent: exponent, significand: 1)
        for i in block.indices {
            let code = element.encode(block[i] * inverse)
            codes[i] = code
            reconstructed?[i] = element.decode(code) * scale
        }
        return E8M0.code(forExponent: exponent)
    }
}
