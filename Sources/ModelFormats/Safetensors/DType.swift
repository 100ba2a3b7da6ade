/// The element types a safetensors header may name, with their exact bit widths.
public enum DType: String, CaseIterable, Sendable, Codable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"
    case c64 = "C64"
    case f8E4M3 = "F8_E4M3"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case f8E8M0 = "F8_E8M0"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"

    public var bitWidth: Int {
        switch self {
        case .bool, .u8, .i8, .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .f64, .i64, .u64, .c64: 64
        case .f4: 4
        case .f6E2M3, .f6E3M2: 6
        }
    }

    /// True for the types that pack several elements into a byte (F4, F6).
    public var isSubByte: Bool { bitWidth < 8 }

    /// True for real floating-point types, the ones that convert to and from fp32.
    public var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64, .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0, .f4, .f6E2M3, .f6E3M2: true
        default: false
        }
    }

    /// The minifloat format behind a small float type, if it is one.
    public var miniFloat: MiniFloatFormat? {
        switch self {
        case .f16: .fp16
        case .bf16: .bf16
        case .f8E4M3: .fp8E4M3
        case .f8E5M2: .fp8E5M2
        case .f8E4M3FNUZ: .fp8E4M3FNUZ
        case .f8E5M2FNUZ: .fp8E5M2FNUZ
        case .f6E2M3: .fp6E2M3
        case .f6E3M2: .fp6E3M2
        case .f4: .fp4E2M1
        default: nil
        }
    }

    /// Bytes needed for `count` elements, or a thrown error when sub-byte elements would leave a
    /// partial byte (safetensors requires whole bytes) or the size overflows.
    public func byteCount(elements count: Int, tensor: String? = nil) throws -> Int {
        let bits = try Checked.multiply(count, bitWidth, "bit size", tensor: tensor)
        guard bits % 8 == 0 else {
            throw FormatError(
                .subByteMisaligned,
                "\(count) elements of \(rawValue) take \(bits) bits, not a whole number of bytes",
                tensor: tensor)
        }
        return bits / 8
    }
}
