/// Fast fp16 and bf16 conversions used on hot paths. `MiniFloatFormat.fp16` / `.bf16` are the
/// references; the tests check these against them on every 16-bit code.
public enum HalfFloat {
    @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float {
        #if arch(x86_64) || arch(arm64)
            return Float(Float16(bitPattern: bits))
        #else
            return MiniFloatFormat.fp16.decode(UInt32(bits))
        #endif
    }

    /// Round to nearest even; overflow gives ±Inf; NaN stays a quiet NaN with its sign.
    @inline(__always)
    public static func fromFloat(_ value: Float) -> UInt16 {
        #if arch(x86_64) || arch(arm64)
            if value.isNaN { return value.sign == .minus ? 0xFE00 : 0x7E00 }
            return Float16(value).bitPattern
        #else
            return UInt16(MiniFloatFormat.fp16.encode(value))
        #endif
    }
}

public enum BFloat16 {
    @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Round to nearest even on the top 16 bits of the fp32 pattern; NaN becomes a quiet NaN with its
    /// sign, because rounding a NaN's payload could carry it into Inf.
    @inline(__always)
    public static func fromFloat(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return value.sign == .minus ? 0xFFC0 : 0x7FC0 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
