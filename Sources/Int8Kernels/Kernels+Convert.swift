import CInt8Kernels

/// Bulk conversions to fp32.
extension Kernels {
    public enum SourceFormat: Sendable, CaseIterable {
        case fp16, bf16, fp8E4M3, fp8E5M2

        public var bytesPerElement: Int {
            switch self {
            case .fp16, .bf16: 2
            case .fp8E4M3, .fp8E5M2: 1
            }
        }
    }

    /// Converts `count` elements of `format` from `input` (little-endian bytes) to fp32.
    public func convertToFloat(
        _ format: SourceFormat, _ input: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        let count = out.count
        try require(
            input.count >= count * format.bytesPerElement,
            "input holds \(input.count) bytes, need \(count * format.bytesPerElement)")
        guard count > 0, let base = input.baseAddress else { return }
        switch format {
        case .fp16: table.pointee.f16_to_f32(base.assumingMemoryBound(to: UInt16.self), out.baseAddress, count)
        case .bf16: table.pointee.bf16_to_f32(base.assumingMemoryBound(to: UInt16.self), out.baseAddress, count)
        case .fp8E4M3: table.pointee.e4m3_to_f32(base.assumingMemoryBound(to: UInt8.self), out.baseAddress, count)
        case .fp8E5M2: table.pointee.e5m2_to_f32(base.assumingMemoryBound(to: UInt8.self), out.baseAddress, count)
        }
    }
}

/// fp32 -> fp16 with round half to even (the C reference both variants share).
public func fp16Bits(_ value: Float) -> UInt16 { qk_fp32_to_fp16(value) }
