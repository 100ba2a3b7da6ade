/// OCP E8M0: an unsigned power of two, 2^(code - 127), used as the shared scale of MX blocks.
/// There is no zero and no sign; 0xFF is NaN.
///
/// Encoding rounds the mantissa to nearest, ties to even (so 1.5·2^e becomes 2^(e+1)), bit-exact with
/// `ml_dtypes.float8_e8m0fnu`: zero, negative values, Inf and NaN all become NaN, and values below
/// 2^-126 (fp32 subnormals) follow ml_dtypes' own rule (see `encode`).
public enum E8M0 {
    public static let nanCode: UInt8 = 0xFF

    public static func decode(_ code: UInt8) -> Float {
        if code == nanCode { return .nan }
        return Float(sign: .plus, exponent: Int(code) - 127, significand: 1)
    }

    public static func encode(_ x: Float) -> UInt8 {
        guard x.isFinite, x > 0 else { return nanCode }
        // fp32 subnormals: ml_dtypes sends everything above 2^-127 up to 2^-126 and the rest to
        // 2^-127. We match it bit for bit; MX scales never come from this range in practice.
        if x < Float.leastNormalMagnitude {
            return x > Float(sign: .plus, exponent: -127, significand: 1) ? 1 : 0
        }
        // Through Double so that fp32 subnormals are normalized too.
        let wide = Double(x)
        let exponent = Int(wide.exponent)
        // Values in [2^e, 2^(e+1)) round up when the significand is 1.5 or more (ties go up: the
        // rounded significand 2 is "even" with zero mantissa bits).
        let roundsUp = wide.significand >= 1.5
        let result = exponent + (roundsUp ? 1 : 0)
        if result > 127 { return nanCode }
        if result < -127 { return 0 }
        return UInt8(result + 127)
    }

    /// The E8M0 code of 2^exponent, clamped to the representable range [-127, 127].
    public static func code(forExponent exponent: Int) -> UInt8 { UInt8(min(max(exponent, -127), 127) + 127) }
}
