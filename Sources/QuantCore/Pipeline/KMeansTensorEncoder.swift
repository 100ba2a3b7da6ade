import Int8Kernels
import ModelFormats
import Synchronization

/// `method: kmeans`: a codebook of 2^bits F32 centroids per tensor (or per output channel, axis 0)
/// and one index per weight, packed per row like low-bit linear codes.
///
/// A tensor codebook reads the tensor three times (range, histogram, codes); channel codebooks
/// are found from each chunk of channels in memory (one read).
struct KMeansTensorEncoder {
    let processor: TensorProcessor
    let tensor: SourceTensor
    let bits: Int
    let perChannel: Bool

    /// Histogram resolution: fine enough that binning moves centroids far less than a code step.
    static let tensorBins = 1 << 16
    static let channelBins = 1 << 12

    var k: Int { 1 << bits }

    func run(into writer: ArtifactWriter) throws -> ErrorMetrics {
        let last = Swift.max(tensor.shape.last ?? 1, 1)
        let rows = tensor.elementCount / last
        let channels = perChannel ? tensor.shape[0] : 1
        let rowsPerChannel = channels == 0 ? 0 : rows / channels
        var codebooks = [[Float]](repeating: [], count: channels)
        if !perChannel { codebooks[0] = try tensorCodebook(rows: rows, cols: last) }
        var metrics = ErrorMetrics()
        let rowBytes = bits == 8 ? last : Kernels.packedRowBytes(cols: last, bits: bits)
        // Chunks hold whole channels when each channel has its own codebook.
        let step = perChannel ? Swift.max(1, processor.chunkElements / Swift.max(rowsPerChannel * last, 1)) * rowsPerChannel : 0
        let chunks =
            perChannel
            ? stride(from: 0, to: rows, by: Swift.max(step, 1)).map { $0..<Swift.min(rows, $0 + Swift.max(step, 1)) }
            : processor.chunks(rows: rows, cols: last)
        for chunk in chunks {
            let elements = (chunk.lowerBound * last)..<(chunk.upperBound * last)
            let x = try processor.read(tensor, elements: elements)
            if perChannel {
                let ranges = try processor.kernels.minMax(x, rows: chunk.count, cols: last, group: last)
                if ranges.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, ranges.nonFinite) }
                for channel
                    in (chunk.lowerBound / Swift.max(rowsPerChannel, 1))..<(chunk.upperBound / Swift.max(rowsPerChannel, 1))
                {
                    let first = channel * rowsPerChannel - chunk.lowerBound
                    let part = (first * last)..<((first + rowsPerChannel) * last)
                    let lo = ranges.mins[first..<(first + rowsPerChannel)].min() ?? 0
                    let hi = ranges.maxs[first..<(first + rowsPerChannel)].max() ?? 0
                    var histogram = KMeansHistogram(minimum: lo, maximum: hi, bins: Self.channelBins)
                    histogram.add(UnsafeBufferPointer(rebasing: x[part]))
                    codebooks[channel] = KMeans1D.centroids(histogram, k: k)
                }
            }
            let codes = UncheckedBox(processor.codeBuffer(elements.count))
            let reconstruction = UncheckedBox(processor.reconstructionBuffer(elements.count))
            let input = UncheckedBox(x)
            let books = codebooks
            let kernels = processor.kernels
            let first = chunk.lowerBound
            let perChannel = self.perChannel
            // Rows are independent once the codebooks are known: both cores assign codes.
            metrics.merge(
                try processor.parallel(rows: chunk.count) { range, sums in
                    var current = -1
                    var assigner = KMeans1D.Assigner(centroids: [0], minimum: 0, maximum: 0, cells: 1)
                    for offset in range {
                        let channel = perChannel ? (first + offset) / Swift.max(rowsPerChannel, 1) : 0
                        let codebook = books[channel]
                        if channel != current {
                            current = channel
                            // The table spans the codebook's own range; values outside clamp to its ends.
                            assigner = KMeans1D.Assigner(
                                centroids: codebook, minimum: codebook.first ?? 0, maximum: codebook.last ?? 0)
                        }
                        for i in (offset * last)..<((offset + 1) * last) {
                            let index = assigner.index(input.value[i])
                            codes.value[i] = UInt8(index)
                            reconstruction.value[i] = codebook[index]
                        }
                    }
                    let part = (range.lowerBound * last)..<(range.upperBound * last)
                    try kernels.error(
                        UnsafeBufferPointer(rebasing: input.value[part]),
                        reconstructed: UnsafeBufferPointer(rebasing: UnsafeBufferPointer(reconstruction.value)[part]), into: &sums
                    )
                })
            let codesWritten = codes.value
            if bits == 8 {
                try writer.write(UnsafeRawBufferPointer(codesWritten))
            } else {
                let packed = processor.packBuffer(chunk.count * rowBytes)
                try processor.kernels.pack(
                    UnsafeBufferPointer(codesWritten), rows: chunk.count, cols: last, bits: bits, into: packed)
                try writer.write(UnsafeRawBufferPointer(packed))
            }
            try processor.done(tensor, elements: elements)
        }
        try writer.write(try FloatCodec.fromFloat32(.f32, codebooks.flatMap { $0 }))
        return metrics
    }

    /// One codebook for the whole tensor: a range pass, then a histogram pass.
    private func tensorCodebook(rows: Int, cols: Int) throws -> [Float] {
        var lo = Float.infinity
        var hi = -Float.infinity
        for chunk in processor.chunks(rows: rows, cols: cols) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = try processor.read(tensor, elements: elements)
            let ranges = try processor.kernels.minMax(x, rows: 1, cols: Swift.max(x.count, 1), group: Swift.max(x.count, 1))
            if ranges.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, ranges.nonFinite) }
            lo = Swift.min(lo, ranges.mins.first ?? lo)
            hi = Swift.max(hi, ranges.maxs.first ?? hi)
            processor.source.release(tensor, elements: elements)
        }
        guard lo <= hi else { return [Float](repeating: 0, count: k) }
        // Each core fills its own histogram for its rows; they are summed afterwards.
        let (low, high) = (lo, hi)
        let histogram = Mutex(KMeansHistogram(minimum: low, maximum: high, bins: Self.tensorBins))
        for chunk in processor.chunks(rows: rows, cols: cols) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = UncheckedBox(try processor.read(tensor, elements: elements))
            _ = try processor.parallel(rows: chunk.count) { range, _ in
                var local = KMeansHistogram(minimum: low, maximum: high, bins: Self.tensorBins)
                local.add(UnsafeBufferPointer(rebasing: x.value[(range.lowerBound * cols)..<(range.upperBound * cols)]))
                histogram.withLock { $0.merge(local) }
            }
            processor.source.release(tensor, elements: elements)
        }
        return KMeans1D.centroids(histogram.withLock { $0 }, k: k)
    }
}
