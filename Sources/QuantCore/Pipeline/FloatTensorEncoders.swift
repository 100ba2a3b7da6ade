import Int8Kernels
import ModelFormats

/// `method: float`: fp8 codes of w / s, where s = amax / (the element's largest finite value), one
/// s per tensor or per output channel (rows of the [d0, rest] view). Elements round to nearest,
/// ties to even, and saturate (amax maps onto the largest finite value, so only rounding can reach
/// past it). An all-zero tensor or channel gets s = 1.
struct ScaledFloatTensorEncoder {
    let processor: TensorProcessor
    let tensor: SourceTensor
    let element: FloatElement
    let perChannel: Bool

    static func scale(amax: Float, element: FloatElement) -> Float {
        amax > 0 ? amax / element.format.maxFinite : 1
    }

    /// Codes and reconstruction of `x` with one scale.
    static func quantize(
        _ x: UnsafeBufferPointer<Float>, scale: Float, element: FloatElement,
        codes: UnsafeMutableBufferPointer<UInt8>, reconstructed: UnsafeMutableBufferPointer<Float>
    ) {
        let format = element.format
        for i in x.indices {
            let code = UInt8(truncatingIfNeeded: format.encodeSaturating(x[i] / scale))
            codes[i] = code
            reconstructed[i] = format.decode(UInt32(code)) * scale
        }
    }

    func run(into writer: ArtifactWriter) throws -> ErrorMetrics {
        // Rows of the [rows, last] view; with channel scales, each channel (index on axis 0) is
        // `rowsPerChannel` whole rows, so a chunk of rows never splits a row between two scales.
        let last = Swift.max(tensor.shape.last ?? 1, 1)
        let rows = tensor.elementCount / last
        let channels = perChannel ? tensor.shape[0] : 1
        let rowsPerChannel = channels == 0 ? 0 : rows / channels
        func channel(ofRow row: Int) -> Int { perChannel ? row / Swift.max(rowsPerChannel, 1) : 0 }
        // One range pass first: every scale must be known before the first code is written.
        var amax = [Float](repeating: 0, count: channels)
        for chunk in processor.chunks(rows: rows, cols: last) {
            let elements = (chunk.lowerBound * last)..<(chunk.upperBound * last)
            let x = try processor.read(tensor, elements: elements)
            let ranges = try processor.kernels.minMax(x, rows: chunk.count, cols: last, group: last)
            if ranges.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, ranges.nonFinite) }
            for (offset, row) in chunk.enumerated() {
                amax[channel(ofRow: row)] = Swift.max(amax[channel(ofRow: row)], -ranges.mins[offset], ranges.maxs[offset])
            }
            processor.source.release(tensor, elements: elements)
        }
        let scales = amax.map { Self.scale(amax: $0, element: element) }
        let metrics = try processor.writeCodes(tensor, rows: rows, cols: last, bits: 8, into: writer) {
            chunk, x, codes, reconstruction in
            for (offset, row) in chunk.enumerated() {
                let part = (offset * last)..<((offset + 1) * last)
                Self.quantize(
                    UnsafeBufferPointer(rebasing: x[part]), scale: scales[channel(ofRow: row)], element: element,
                    codes: UnsafeMutableBufferPointer(rebasing: codes[part]),
                    reconstructed: UnsafeMutableBufferPointer(rebasing: reconstruction[part]))
            }
        }
        try writer.write(try FloatCodec.fromFloat32(.f32, scales))
        return metrics
    }
}

/// `method: mx`: each block of 32 values along a row (the last block may be shorter) gets the
/// E8M0 scale 2^E of `MXQuantizer` and element codes; FP6 and FP4 codes are packed per row.
struct MXTensorEncoder {
    let processor: TensorProcessor
    let tensor: SourceTensor
    let element: MXElement

    func run(into writer: ArtifactWriter) throws -> ErrorMetrics {
        let last = Swift.max(tensor.shape.last ?? 1, 1)
        let rows = tensor.elementCount / last
        let blocks = (last + MXElement.blockSize - 1) / MXElement.blockSize
        var scales = [UInt8]()
        scales.reserveCapacity(rows * blocks)
        let metrics = try processor.writeCodes(tensor, rows: rows, cols: last, bits: element.bits, into: writer) {
            chunk, x, codes, reconstruction in
            let ranges = try processor.kernels.minMax(x, rows: chunk.count, cols: last, group: last)
            if ranges.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, ranges.nonFinite) }
            for row in 0..<chunk.count {
                for block in 0..<blocks {
                    let start = row * last + block * MXElement.blockSize
                    let part = start..<Swift.min(start + MXElement.blockSize, (row + 1) * last)
                    scales.append(
                        MXQuantizer.quantize(
                            UnsafeBufferPointer(rebasing: x[part]), element: element,
                            codes: UnsafeMutableBufferPointer(rebasing: codes[part]),
                            reconstructed: UnsafeMutableBufferPointer(rebasing: reconstruction[part])))
                }
            }
        }
        try scales.withUnsafeBytes { try writer.write($0) }
        return metrics
    }
}
