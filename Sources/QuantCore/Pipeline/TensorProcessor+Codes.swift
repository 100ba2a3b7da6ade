import Int8Kernels
import ModelFormats

extension TensorProcessor {
    /// The loop every code-writing job shares: for each chunk of `rows` rows of `cols` values, read
    /// them, let `encode` fill one byte code and one reconstructed value per value, measure the
    /// error, and write the codes (packed to `bits` per code along the tensor's rows when `bits` < 8).
    /// `encode` gets the chunk's row range and its values, codes and reconstruction, offset 0 at the
    /// chunk's first value.
    func writeCodes(
        _ tensor: SourceTensor, rows: Int, cols: Int, bits: Int, into writer: ArtifactWriter,
        _ encode: (Range<Int>, UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<UInt8>, UnsafeMutableBufferPointer<Float>)
            throws -> Void
    ) throws -> ErrorMetrics {
        var metrics = ErrorMetrics()
        let last = Swift.max(tensor.shape.last ?? 1, 1)
        for chunk in chunks(rows: rows, cols: cols) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = try read(tensor, elements: elements)
            let codes = codeBuffer(elements.count)
            let reconstruction = reconstructionBuffer(elements.count)
            try encode(chunk, x, codes, reconstruction)
            try kernels.error(x, reconstructed: UnsafeBufferPointer(reconstruction), into: &metrics)
            if bits == 8 {
                try writer.write(UnsafeRawBufferPointer(codes))
            } else {
                let tensorRows = elements.count / last
                let packed = packBuffer(tensorRows * Kernels.packedRowBytes(cols: last, bits: bits))
                try kernels.pack(UnsafeBufferPointer(codes), rows: tensorRows, cols: last, bits: bits, into: packed)
                try writer.write(UnsafeRawBufferPointer(packed))
            }
            try done(tensor, elements: elements)
        }
        return metrics
    }
}
