import Int8Kernels
import ModelFormats
import Synchronization

/// Runs one tensor's plan: reads it in row chunks (about `chunkElements` values), quantizes each
/// chunk on up to `threads` threads from cache, measures the error in the same pass, and streams the
/// outputs into the writer. Memory holds a chunk, never a tensor.
final class TensorProcessor {
    let source: SourceModel
    let kernels: Kernels
    let threads: Int
    let chunkElements: Int
    /// Called after every chunk with the input bytes it covered; throws to cancel.
    let checkpoint: (Int) throws -> Void
    /// The calibration dataset and its results, when the run has one.
    var calibration: CalibrationContext?
    /// llama.cpp's importance matrix, when the run's dataset is one (then `calibration` is nil).
    var importanceMatrix: ImportanceMatrix?
    /// The importance-matrix entry that weighted each tensor's search.
    private(set) var importanceEntries: [String: String] = [:]

    private let floats = ScratchBuffer<Float>(fill: 0)
    private let codes = ScratchBuffer<UInt8>(fill: 0)
    private let packed = ScratchBuffer<UInt8>(fill: 0)
    private let reconstructed = ScratchBuffer<Float>(fill: 0)

    init(source: SourceModel, kernels: Kernels, threads: Int, chunkElements: Int, checkpoint: @escaping (Int) throws -> Void) {
        self.source = source
        self.kernels = kernels
        self.threads = threads
        self.chunkElements = chunkElements
        self.checkpoint = checkpoint
    }

    /// Runs the plan; `fixedPoint` receives the Qm.n formats of power-of-two linear scales.
    func process(_ plan: TensorPlan, into writer: ArtifactWriter, fixedPoint: inout String?) throws -> ErrorMetrics? {
        let layer = calibration?.dataset.layer(ofWeight: plan.source.name)
        let metrics = try run(plan, into: writer, layer: layer, fixedPoint: &fixedPoint)
        if let calibration, let layer, plan.source.shape.count == 2,
            calibration.evaluations.withLock({ $0[plan.source.name] == nil })
        {
            let weighted = importanceLayer(plan) != nil
            try CalibratedLinearEncoder.evaluateOnly(
                plan.source, layer: layer, calibration: calibration, processor: self,
                rounding: weighted ? "importance-weighted (each column's mean squared input)" : "n/a")
        }
        return metrics
    }

    private func run(_ plan: TensorPlan, into writer: ArtifactWriter, layer: String?, fixedPoint: inout String?) throws
        -> ErrorMetrics?
    {
        switch plan.action {
        case .copy:
            try copy(plan.source, into: writer)
            return nil
        case .linear(let scheme, let scaleDType), .compressedLinear(let scheme, let scaleDType):
            var linear = LinearTensorEncoder(processor: self, plan: plan, scheme: scheme, scaleDType: scaleDType)
            if case .compressedLinear = plan.action { linear.compressedTensors = true }
            if let calibration, let layer, let spec = plan.spec, CalibratedLinearEncoder.applies(scheme, to: plan.source) {
                return try CalibratedLinearEncoder(linear: linear, calibration: calibration, layer: layer, spec: spec).run(
                    into: writer, fixedPoint: &fixedPoint)
            }
            return try linear.run(into: writer, fixedPoint: &fixedPoint)
        case .blocks(let format):
            return try blocks(plan.source, format: format, importance: importanceWeights(plan), into: writer)
        case .float(let dtype):
            return try convert(plan.source, to: dtype, into: writer)
        case .sign(let ternary):
            return try SignTensorEncoder(processor: self, tensor: plan.source, ternary: ternary).run(into: writer)
        case .scaledFloat(let element, let perChannel):
            return try ScaledFloatTensorEncoder(processor: self, tensor: plan.source, element: element, perChannel: perChannel)
                .run(into: writer)
        case .mx(let element):
            return try MXTensorEncoder(processor: self, tensor: plan.source, element: element).run(into: writer)
        case .kmeans(let bits, let perChannel):
            return try KMeansTensorEncoder(processor: self, tensor: plan.source, bits: bits, perChannel: perChannel).run(
                into: writer)
        }
    }

    // MARK: - Chunking

    /// Row ranges of a rows x cols view, each about `chunkElements` values (one range for rank <= 1).
    func chunks(rows: Int, cols: Int, whole: Bool = false) -> [Range<Int>] {
        guard rows > 0 else { return [] }
        let step = whole ? rows : Swift.max(1, chunkElements / Swift.max(cols, 1))
        return stride(from: 0, to: rows, by: step).map { $0..<Swift.min(rows, $0 + step) }
    }

    func read(_ tensor: SourceTensor, elements: Range<Int>) throws -> UnsafeBufferPointer<Float> {
        try source.floats(of: tensor, elements, scratch: floats, kernels: kernels)
    }

    /// The input buffer of a chunk of `count` values, for workers that each read their own rows
    /// (`SourceModel.read(_:chunkStart:part:into:kernels:)`): the copy out of the page cache then
    /// runs on every thread, not before them.
    func inputBuffer(_ count: Int) -> UncheckedBox<UnsafeMutableBufferPointer<Float>> { UncheckedBox(floats.take(count)) }

    func done(_ tensor: SourceTensor, elements: Range<Int>) throws {
        source.release(tensor, elements: elements)
        let bits = tensor.floatDType?.bitWidth ?? 8
        try checkpoint(elements.count * bits / 8)
    }

    /// Runs `body` on sub-ranges of `rows` in parallel, collecting errors and error sums.
    func parallel(rows: Int, _ body: @escaping @Sendable (Range<Int>, inout ErrorMetrics) throws -> Void) throws -> ErrorMetrics {
        let total = Mutex(ErrorMetrics())
        let failures = ErrorBox()
        Parallel.rows(rows, threads: threads) { range in
            var local = ErrorMetrics()
            do {
                try body(range, &local)
                total.withLock { $0.merge(local) }
            } catch {
                failures.record(error)
            }
        }
        try failures.rethrow()
        return total.withLock { $0 }
    }

    func codeBuffer(_ count: Int) -> UnsafeMutableBufferPointer<UInt8> { codes.take(count) }
    func packBuffer(_ count: Int) -> UnsafeMutableBufferPointer<UInt8> { packed.take(count) }
    func reconstructionBuffer(_ count: Int) -> UnsafeMutableBufferPointer<Float> { reconstructed.take(count) }

    // MARK: - Copy, blocks, float conversion

    private func copy(_ tensor: SourceTensor, into writer: ArtifactWriter) throws {
        // Converted tensors (rows regrouped, or computed) are planned as float conversions instead.
        var converted = tensor.permuteHeads != nil
        if case .generated = tensor.storage { converted = true }
        if converted { throw PipelineError.unsupported(tensor.name, "internal: a converted tensor planned as a byte copy") }
        try copyStored(tensor, into: writer)
    }

    private func copyStored(_ tensor: SourceTensor, into writer: ArtifactWriter) throws {
        let bytes = source.bytes(of: tensor)
        let piece = 8 << 20
        var offset = 0
        while offset < bytes.count {
            let end = Swift.min(bytes.count, offset + piece)
            try writer.write(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
            source.mapping(of: tensor).release((tensor.byteRange.lowerBound + offset)..<(tensor.byteRange.lowerBound + end))
            try checkpoint(end - offset)
            offset = end
        }
    }

    /// The calibration layer whose inputs weight this tensor's search, when the dataset has samples for it.
    private func importanceLayer(_ plan: TensorPlan) -> String? {
        plan.takesImportance ? calibration?.dataset.layer(ofWeight: plan.source.name) : nil
    }

    /// llama.cpp's importance weights for this tensor's search (one per column): the importance
    /// matrix's entry, or each column's mean squared input over the dataset's samples; nil without.
    private func importanceWeights(_ plan: TensorPlan) throws -> [Float]? {
        if let importanceMatrix {
            guard plan.takesImportance,
                let (entry, values) = try importanceMatrix.weights(for: plan.source.name, columns: plan.source.shape[1])
            else { return nil }
            importanceEntries[plan.source.name] = entry
            return values
        }
        guard let calibration, let layer = importanceLayer(plan) else { return nil }
        return try calibration.importance(of: layer, kernels: kernels)
    }

    private func blocks(_ tensor: SourceTensor, format: GGMLType, importance: [Float]?, into writer: ArtifactWriter) throws
        -> ErrorMetrics
    {
        let kernels = kernels
        return try encode(tensor, bytes: { format.blockBytes(elements: $0) }, into: writer) { values, target, reconstruction in
            if let importance {
                try importance.withUnsafeBufferPointer {
                    try kernels.quantizeBlocks(format, values, importance: $0, into: target)
                }
            } else {
                try kernels.quantizeBlocks(format, values, into: target)
            }
            try kernels.dequantizeBlocks(format, UnsafeRawBufferPointer(target), into: reconstruction)
        }
    }

    private func convert(_ tensor: SourceTensor, to dtype: DType, into writer: ArtifactWriter) throws -> ErrorMetrics {
        try encode(tensor, bytes: { $0 * dtype.bitWidth / 8 }, into: writer) { values, target, reconstruction in
            try FloatCodec.fromFloat32(dtype, values, into: target)
            try FloatCodec.toFloat32(dtype, bytes: UnsafeRawBufferPointer(target), into: reconstruction)
        }
    }

    /// Streams a float tensor through an encoder in row chunks (rows of the last dimension, split
    /// across threads): `encode` writes a run's bytes and its reconstruction, from which the error
    /// is measured. `bytes(n)` is the encoded size of n values (n always a whole number of rows).
    private func encode(
        _ tensor: SourceTensor, bytes: @escaping @Sendable (Int) -> Int, into writer: ArtifactWriter,
        _ encode:
            @escaping @Sendable (UnsafeBufferPointer<Float>, UnsafeMutableRawBufferPointer, UnsafeMutableBufferPointer<Float>)
            throws -> Void
    ) throws -> ErrorMetrics {
        let cols = tensor.shape.last ?? 1
        let rows = cols == 0 ? 0 : tensor.elementCount / cols
        var metrics = ErrorMetrics()
        for chunk in chunks(rows: rows, cols: cols, whole: tensor.shape.count <= 1) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = inputBuffer(elements.count)
            let out = UncheckedBox(codeBuffer(bytes(elements.count)))
            let back = UncheckedBox(reconstructionBuffer(elements.count))
            let kernels = kernels
            let source = source
            metrics.merge(
                try parallel(rows: chunk.count) { range, sums in
                    let part = (range.lowerBound * cols)..<(range.upperBound * cols)
                    let values = try source.read(tensor, chunkStart: elements.lowerBound, part: part, into: x, kernels: kernels)
                    let target = UnsafeMutableRawBufferPointer(
                        UnsafeMutableBufferPointer(rebasing: out.value[bytes(part.lowerBound)..<bytes(part.upperBound)]))
                    let reconstruction = UnsafeMutableBufferPointer(rebasing: back.value[part])
                    try encode(values, target, reconstruction)
                    var partSums = ErrorMetrics()
                    try kernels.error(values, reconstructed: UnsafeBufferPointer(reconstruction), into: &partSums)
                    // A NaN or Inf input always poisons the sums: only then are the values counted,
                    // which saves every clean chunk a pass (huge finite values can overflow the sums
                    // too; the count then finds nothing). The encoders take non-finite values without
                    // harm, and their bytes are never written, since the throw abandons the chunk.
                    if !partSums.sumSquares.isFinite || !partSums.sumSquaredError.isFinite {
                        let bad = try kernels.minMax(values, rows: 1, cols: values.count, group: Swift.max(values.count, 1))
                            .nonFinite
                        if bad > 0 { throw PipelineError.nonFinite(tensor.name, bad) }
                    }
                    sums.merge(partSums)
                })
            try writer.write(UnsafeRawBufferPointer(out.value))
            try done(tensor, elements: elements)
        }
        return metrics
    }
}
