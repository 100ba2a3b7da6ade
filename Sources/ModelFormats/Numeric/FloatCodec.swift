/// Converts tensor bytes of any floating dtype to fp32 and back, a range of elements at a time, so
/// callers can stream a tensor in chunks. Sub-byte types are packed least significant bit first:
/// element i occupies bits [i*w, (i+1)*w) of the byte stream (F4: two per byte, element 0 in the
/// low nibble, as PyTorch's float4_e2m1fn_x2; F6: four elements in three bytes).
public enum FloatCodec {
    /// Decodes elements `first ..< first + output.count` of `bytes` (holding `dtype` elements).
    public static func toFloat32(
        _ dtype: DType, bytes: UnsafeRawBufferPointer, first: Int = 0, into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        let count = output.count
        try checkRange(dtype, bytes: bytes.count, first: first, count: count)
        switch dtype {
        case .f32:
            for i in 0..<count { output[i] = Float(bitPattern: load(UInt32.self, bytes, first + i)) }
        case .f64:
            for i in 0..<count { output[i] = Float(Double(bitPattern: load(UInt64.self, bytes, first + i))) }
        case .f16:
            for i in 0..<count { output[i] = HalfFloat.toFloat(load(UInt16.self, bytes, first + i)) }
        case .bf16:
            for i in 0..<count { output[i] = BFloat16.toFloat(load(UInt16.self, bytes, first + i)) }
        case .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ:
            let table = ByteDecodeTable.table(for: dtype)
            for i in 0..<count { output[i] = table[Int(bytes[first + i])] }
        case .f8E8M0:
            for i in 0..<count { output[i] = E8M0.decode(bytes[first + i]) }
        case .f4, .f6E2M3, .f6E3M2:
            let format = dtype.miniFloat!  // every sub-byte float has one
            for i in 0..<count { output[i] = format.decode(readBits(bytes, element: first + i, width: dtype.bitWidth)) }
        default:
            throw FormatError(.unknownDType, "\(dtype.rawValue) is not a floating-point type")
        }
    }

    /// Encodes fp32 values into elements `first ..< first + input.count` of `bytes`.
    public static func fromFloat32(
        _ dtype: DType, _ input: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer, first: Int = 0,
        overflow: MiniFloatFormat.Overflow = .formatDefault
    ) throws {
        let count = input.count
        try checkRange(dtype, bytes: bytes.count, first: first, count: count)
        switch dtype {
        case .f32:
            for i in 0..<count { store(input[i].bitPattern, bytes, first + i) }
        case .f64:
            for i in 0..<count { store(Double(input[i]).bitPattern, bytes, first + i) }
        case .f16 where overflow == .formatDefault:
            for i in 0..<count { store(HalfFloat.fromFloat(input[i]), bytes, first + i) }
        case .bf16 where overflow == .formatDefault:
            for i in 0..<count { store(BFloat16.fromFloat(input[i]), bytes, first + i) }
        case .f16, .bf16:
            let format = dtype.miniFloat!
            for i in 0..<count { store(UInt16(format.encode(input[i], overflow: overflow)), bytes, first + i) }
        case .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ:
            let format = dtype.miniFloat!
            for i in 0..<count { bytes[first + i] = UInt8(format.encode(input[i], overflow: overflow)) }
        case .f8E8M0:
            for i in 0..<count { bytes[first + i] = E8M0.encode(input[i]) }
        case .f4, .f6E2M3, .f6E3M2:
            let format = dtype.miniFloat!
            for i in 0..<count {
                writeBits(bytes, element: first + i, width: dtype.bitWidth, value: format.encode(input[i], overflow: overflow))
            }
        default:
            throw FormatError(.unknownDType, "\(dtype.rawValue) is not a floating-point type")
        }
    }

    /// Convenience: a whole tensor's bytes to a new fp32 array.
    public static func toFloat32(_ dtype: DType, bytes: UnsafeRawBufferPointer) throws -> [Float] {
        let count = bytes.count * 8 / dtype.bitWidth
        var result = [Float](repeating: 0, count: count)
        try result.withUnsafeMutableBufferPointer { try toFloat32(dtype, bytes: bytes, into: $0) }
        return result
    }

    /// Convenience: fp32 values to a new byte array of `dtype`.
    public static func fromFloat32(_ dtype: DType, _ values: [Float]) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: try dtype.byteCount(elements: values.count))
        try values.withUnsafeBufferPointer { input in
            try bytes.withUnsafeMutableBytes { try fromFloat32(dtype, input, into: $0) }
        }
        return bytes
    }

    static func checkRange(_ dtype: DType, bytes: Int, first: Int, count: Int) throws {
        let end = try Checked.add(first, count, "element range")
        let needed = (try Checked.multiply(end, dtype.bitWidth, "bit range") + 7) / 8
        guard first >= 0, needed <= bytes else {
            throw FormatError(
                .dataOutOfBounds, "elements \(first)..<\(end) of \(dtype.rawValue) need \(needed) bytes, have \(bytes)")
        }
    }

    @inline(__always)
    static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, _ index: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
    }

    @inline(__always)
    static func store<T: FixedWidthInteger>(_ value: T, _ bytes: UnsafeMutableRawBufferPointer, _ index: Int) {
        bytes.storeBytes(of: value.littleEndian, toByteOffset: index * MemoryLayout<T>.size, as: T.self)
    }

    static func readBits(_ bytes: UnsafeRawBufferPointer, element: Int, width: Int) -> UInt32 {
        let bit = element * width
        var value: UInt32 = 0
        for k in 0..<width {
            let position = bit + k
            value |= UInt32((bytes[position >> 3] >> UInt8(position & 7)) & 1) << UInt32(k)
        }
        return value
    }

    static func writeBits(_ bytes: UnsafeMutableRawBufferPointer, element: Int, width: Int, value: UInt32) {
        let bit = element * width
        for k in 0..<width {
            let position = bit + k
            let mask = UInt8(1) << UInt8(position & 7)
            if (value >> UInt32(k)) & 1 != 0 { bytes[position >> 3] |= mask } else { bytes[position >> 3] &= ~mask }
        }
    }
}

/// Decode tables for the 8-bit float types: 256 entries computed once from the exact decoder.
enum ByteDecodeTable {
    static let e4m3 = make(.fp8E4M3)
    static let e5m2 = make(.fp8E5M2)
    static let e4m3fnuz = make(.fp8E4M3FNUZ)
    static let e5m2fnuz = make(.fp8E5M2FNUZ)

    static func table(for dtype: DType) -> [Float] {
        switch dtype {
        case .f8E5M2: e5m2
        case .f8E4M3FNUZ: e4m3fnuz
        case .f8E5M2FNUZ: e5m2fnuz
        default: e4m3
        }
    }

    static func make(_ format: MiniFloatFormat) -> [Float] { (0..<256).map { format.decode(UInt32($0)) } }
}
