import CInt8Kernels
import ModelFormats

extension Kernels {
    /// The quantizer and dequantizer of a block type in this variant's table (ggml's type_traits'
    /// from_float and to_float), or nil for a type we do not quantize.
    private func blockFunctions(_ type: GGMLType) -> (quantize: qk_block_quantize_fn, dequantize: qk_block_dequantize_fn)? {
        let t = table.pointee
        switch type {
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
        default: return nil
        }
    }

    private func functions(_ type: GGMLType) throws -> (quantize: qk_block_quantize_fn, dequantize: qk_block_dequantize_fn) {
        guard let functions = blockFunctions(type) else {
            throw KernelError(
                "\(type.name) has no block kernels (\(GGMLType.blockQuantized.map(\.name).joined(separator: ", ")) do)")
        }
        return functions
    }

    /// Quantizes `x` (a whole number of blocks) into ggml blocks, following ggml's reference.
    public func quantizeBlocks(_ format: GGMLType, _ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawBufferPointer)
        throws
    {
        let quantize = try functions(format).quantize
        try require(
            x.count % format.blockSize == 0, "\(format.name) needs a multiple of \(format.blockSize) elements, got \(x.count)")
        try require(
            out.count >= format.blockBytes(elements: x.count),
            "output holds \(out.count) bytes, need \(format.blockBytes(elements: x.count))")
        guard !x.isEmpty else { return }
        quantize(x.baseAddress, out.baseAddress, x.count)
    }

    /// Quantizes whole rows of `importance.count` values each with one importance weight per column
    /// (llama.cpp's importance-matrix path: ggml's quantize_row_*_impl for Q4_0 ... Q5_1 and the
    /// K-quants, quantize_iq4_nl with weights).
    public func quantizeBlocks(
        _ format: GGMLType, _ x: UnsafeBufferPointer<Float>, importance: UnsafeBufferPointer<Float>,
        into out: UnsafeMutableRawBufferPointer
    ) throws {
        let cols = importance.count
        try require(format.takesImportance, "\(format.name) takes no importance weights (ggml ignores them for Q8_0 and MXFP4)")
        try require(
            cols > 0 && cols % format.blockSize == 0,
            "rows of \(cols) values are not whole \(format.name) blocks of \(format.blockSize)")
        try require(x.count % cols == 0, "\(x.count) values are not whole rows of \(cols)")
        try require(
            out.count >= format.blockBytes(elements: x.count),
            "output holds \(out.count) bytes, need \(format.blockBytes(elements: x.count))")
        guard let base = x.baseAddress, let target = out.baseAddress, let weights = importance.baseAddress,
            let function = weightedFunction(format)
        else { return }
        let rowBytes = format.blockBytes(elements: cols)
        for row in 0..<(x.count / cols) { function(base + row * cols, weights, target + row * rowBytes, cols) }
    }

    private func weightedFunction(_ format: GGMLType) -> qk_weighted_quantize_fn? {
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
        default: nil
        }
    }

    public func dequantizeBlocks(
        _ format: GGMLType, _ blocks: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        let dequantize = try functions(format).dequantize
        try require(out.count % format.blockSize == 0, "\(format.name) needs a multiple of \(format.blockSize) elements")
        try require(
            blocks.count >= format.blockBytes(elements: out.count),
            "input holds \(blocks.count) bytes, need \(format.blockBytes(elements: out.count))")
        guard !out.isEmpty else { return }
        dequantize(blocks.baseAddress, out.baseAddress, out.count)
    }
}
