import CInt8Kernels

/// ggml block formats: 32 elements per block, 256 for the K-quant super-blocks.
public enum BlockFormat: String, Sendable, CaseIterable {
    case q8_0 = "Q8_0", q4_0 = "Q4_0", q4_1 = "Q4_1", q5_0 = "Q5_0", q5_1 = "Q5_1", mxfp4 = "MXFP4", iq4_NL = "IQ4_NL", q2_K = "Q2_K", q3_K = "Q3_K", q4_K = "Q4_K", q5_K = "Q5_K", q6_K = "Q6_K"

    public var elementsPerBlock: Int { isKQuant ? 256 : 32 }
    /// The K-quants: super-blocks of 256 with quantized sub-block scales.
    public var isKQuant: Bool { [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K].contains(self) }
    /// The formats whose search takes importance weights (llama.cpp's imatrix): all but Q8_0 and
    /// MXFP4, whose ggml quantizers ignore them.
    public var takesImportance: Bool { self != .q8_0 && self != .mxfp4 }

    public var bytesPerBlock: Int {
        switch self {
        case .q8_0: 34
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .mxfp4: 17
        case .iq4_NL: 18
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        }
    }

    /// Bits of each element's code (scales not counted).
    public var codeBits: Int {
        switch self {
        case .q8_0: 8
        case .q5_0, .q5_1, .q5_K: 5
        case .q4_0, .q4_1, .mxfp4, .iq4_NL, .q4_K: 4
        case .q2_K: 2
        case .q3_K: 3
        case .q6_K: 6
        }
    }

    /// Bytes for `elements` elements (a multiple of `elementsPerBlock`).
    public func byteCount(elements: Int) -> Int { elements / elementsPerBlock * bytesPerBlock }
}

extension Kernels {
    /// The quantizer and dequantizer of a format in this variant's table.
    private func blockFunctions(_ format: BlockFormat) -> (quantize: qk_block_quantize_fn, dequantize: qk_block_dequantize_fn) {
        let t = table.pointee
        switch format {
        case .q8_0: return (t.quantize_q8_0, t.dequantize_q8_0)
        case .q4_0: return (t.quantize_q4_0, t.dequantize_q4_0)
        case .q4_1: return (t.quantize_q4_1, t.dequantize_q4_1)
        case .q5_0: return (t.quantize_q5_0, t.dequantize_q5_0)
        case .q5_1: return (t.quantize_q5_1, t.dequantize_q5_1)
        case .mxfp4: return (t.quantize_mxfp4, t.dequantize_mxfp4)
        case .iq4_NL: return (t.quantize_iq4_nl, t.dequantize_iq4_nl)
        case .q2_K: return (t.quantize_q2_k, t.dequantize_q2_k)
        case .q3_K: return (t.quantize_q3_k, t.dequantize_q3_k)
        case .q4_K: return (t.quantize_q4_k, t.dequantize_q4_k)
        case .q5_K: return (t.quantize_q5_k, t.dequantize_q5_k)
        case .q6_K: return (t.quantize_q6_k, t.dequantize_q6_k)
        }
    }

    /// Quantizes `x` (a whole number of blocks) into ggml blocks, following ggml's reference.
    public func quantizeBlocks(_ format: BlockFormat, _ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawBufferPointer) throws {
        try require(x.count % format.elementsPerBlock == 0, "\(format.rawValue) needs a multiple of \(format.elementsPerBlock) elements, got \(x.count)")
        try require(out.count >= format.byteCount(elements: x.count), "output holds \(out.count) bytes, need \(format.byteCount(elements: x.count))")
        guard !x.isEmpty else { return }
        blockFunctions(format).quantize(x.baseAddress, out.baseAddress, x.count)
    }

    /// Quantizes whole rows of `importance.count` values each with one importance weight per column
    /// (llama.cpp's importance-matrix path: ggml's quantize_row_*_impl for Q4_0 ... Q5_1 and the
    /// K-quants, quantize_iq4_nl with weights).
    public func quantizeBlocks(_ format: BlockFormat, _ x: UnsafeBufferPointer<Float>, importance: UnsafeBufferPointer<Float>,
                               into out: UnsafeMutableRawBufferPointer) throws {
        let cols = importance.count
        try require(format.takesImportance, "\(format.rawValue) takes no importance weights (ggml ignores them for Q8_0 and MXFP4)")
        try require(cols > 0 && cols % format.elementsPerBlock == 0, "rows of \(cols) values are not whole \(format.rawValue) blocks of \(format.elementsPerBlock)")
        try require(x.count % cols == 0, "\(x.count) values are not whole rows of \(cols)")
        try require(out.count >= format.byteCount(elements: x.count), "output holds \(out.count) bytes, need \(format.byteCount(elements: x.count))")
        guard let base = x.baseAddress, let target = out.baseAddress, let weights = importance.baseAddress,
              let function = weightedFunction(format) else { return }
        let rowBytes = format.byteCount(elements: cols)
        for row in 0..<(x.count / cols) { function(base + row * cols, weights, target + row * rowBytes, cols) }
    }

    private func weightedFunction(_ format: BlockFormat) -> qk_weighted_quantize_fn? {
        let kernels = table.pointee
        return switch format {
        case .q4_0: kernels.quantize_q4_0_weighted
        case .q4_1: kernels.quantize_q4_1_weighted
        case .q5_0: kernels.quantize_q5_0_weighted
        case .q5_1: kernels.quantize_q5_1_weighted
        case .iq4_NL: kernels.quantize_iq4_nl_weighted
        case .q2_K: kernels.quantize_q2_k_weighted
        case .q3_K: kernels.quantize_q3_k_weighted
        case .q4_K: kernels.quantize_q4_k_weighted
        case .q5_K: kernels.quantize_q5_k_weighted
        case .q6_K: kernels.quantize_q6_k_weighted
        case .q8_0, .mxfp4: nil
        }
    }

    public func dequantizeBlocks(_ format: BlockFormat, _ blocks: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) throws {
        try require(out.count % format.elementsPerBlock == 0, "\(format.rawValue) needs a multiple of \(format.elementsPerBlock) elements")
        try require(blocks.count >= format.byteCount(elements: out.count), "input holds \(blocks.count) bytes, need \(format.byteCount(elements: out.count))")
        guard !out.isEmpty else { return }
        blockFunctions(format).dequantize(blocks.baseAddress, out.baseAddress, out.count)
    }
}
