import Int8Kernels
import ModelFormats
import Synchronization

/// Linear quantization of one tensor into codes, scales and zero points.
///
/// Group scales and channel scales on axis 0 depend only on the rows they cover: each chunk takes
/// its ranges, scales, codes and error in one pass from cache. Tensor scales and channel scales on
/// other axes need the whole tensor's ranges first: one range pass, then the quantizing pass.
/// Workers share it read-only: they use its kernels and scheme, never the processor's scratch buffers.
struct LinearTensorEncoder: @unchecked Sendable {
    let processor: TensorProcessor
    let plan: TensorPlan
    let scheme: LinearScheme
    let scaleDType: WeightSpec.ScaleDType
    /// Write compressed-tensors `pack-quantized` codes (and the shape tensor) instead of ours.
    var compressedTensors = false

    var tensor: SourceTensor { plan.source }
    var kernels: Kernels { processor.kernels }

    /// Runs the job; `fixedPoint` receives the Qm.n formats of power-of-two scales ("Q1.6", or
    /// "Q-1.8 .. Q2.5" when channels differ).
    func run(into writer: ArtifactWriter, fixedPoint: inout String?) throws -> ErrorMetrics {
        let shape = tensor.shape
        let count = tensor.elementCount
        var scales: [Float]
        var zeros: [Int32]?
        var metrics: ErrorMetrics
        let twoLevel = TwoLevelScales()
        switch scheme.granularity {
        case .group(let size):
            let cols = shape.last ?? 1
            (scales, zeros, metrics) = try fused(
                rows: cols == 0 ? 0 : count / cols, cols: cols, group: size, writer: writer, twoLevel: twoLevel)
        case .channel(0):
            let rows = shape.first ?? 1
            let cols = rows == 0 ? 0 : count / rows
            (scales, zeros, metrics) = try fused(rows: rows, cols: cols, group: Swift.max(cols, 1), writer: writer)
        case .tensor, .channel:
            (scales, zeros, metrics) = try twoPass(writer: writer)
        }
        try writeParameters(scales: scales, zeros: zeros, twoLevel: twoLevel, writer: writer, fixedPoint: &fixedPoint)
        return metrics
    }

    /// What follows the codes: scales (or two-level scale codes), zero points, super-scales, and
    /// for compressed-tensors the shape.
    func writeParameters(
        scales: [Float], zeros: [Int32]?, twoLevel: TwoLevelScales, writer: ArtifactWriter, fixedPoint: inout String?
    ) throws {
        if scheme.groupScaleBits != nil {
            try writer.write(twoLevel.codes.withLock { $0 })
        } else {
            try writer.write(try FloatCodec.fromFloat32(scaleDType.dtype, scales))
        }
        if scheme.powerOfTwoScales, let smallest = scales.min(), let largest = scales.max() {
            let formats = [largest, smallest].compactMap { scheme.fixedPointFormat(scale: $0) }
            fixedPoint = formats.count == 2 && formats[0] != formats[1] ? "\(formats[0]) .. \(formats[1])" : formats.first
        }
        if let zeros { try writer.write(zeros.map { UInt8(truncatingIfNeeded: $0) }) }
        if scheme.groupScaleBits != nil {
            try writer.write(try FloatCodec.fromFloat32(.f32, twoLevel.superScales.withLock { $0 }))
        }
        if compressedTensors { try writer.write(tensor.shape.map { Int64($0) }) }
    }

    // MARK: - Scales in the storage dtype

    /// Parameters from ranges, with scales rounded to their storage dtype first, so the codes are
    /// computed with exactly the scale a reader will use.
    func parameters(mins: [Float], maxs: [Float]) throws -> LinearParameters {
        try Self.parameters(mins: mins, maxs: maxs, scheme: scheme, scaleDType: scaleDType, tensor: tensor.name)
    }

    static func parameters(
        mins: [Float], maxs: [Float], scheme: LinearScheme, scaleDType dtype: WeightSpec.ScaleDType, tensor: String
    ) throws -> LinearParameters {
        let parameters = LinearParameters.from(mins: mins, maxs: maxs, scheme: scheme) { scale in
            Self.store(scale, as: dtype)
        }
        if let bad = parameters.scales.first(where: { !$0.isFinite }) {
            throw PipelineError.unsupported(
                tensor, "a scale (\(bad)) does not fit \(dtype.rawValue); use \"scale_dtype\": \"F32\"")
        }
        return parameters
    }

    /// Parameters of `rows` x `cols` values with `group` values per range along each row: ranges,
    /// the scheme's clipping, then scales in their storage dtype.
    static func rowParameters(
        _ values: UnsafeBufferPointer<Float>, rows: Int, cols: Int, group: Int, scheme: LinearScheme,
        scaleDType: WeightSpec.ScaleDType,
        kernels: Kernels, tensor: String
    ) throws -> LinearParameters {
        let ranges = try kernels.minMax(values, rows: rows, cols: cols, group: group)
        if ranges.nonFinite > 0 { throw PipelineError.nonFinite(tensor, ranges.nonFinite) }
        var mins = ranges.mins
        var maxs = ranges.maxs
        scheme.clip(values, rows: rows, cols: cols, group: group, mins: &mins, maxs: &maxs, kernels: kernels)
        return try parameters(mins: mins, maxs: maxs, scheme: scheme, scaleDType: scaleDType, tensor: tensor)
    }

    /// The value `scale` has once stored as `dtype`, never below that dtype's smallest normal.
    static func store(_ scale: Float, as dtype: WeightSpec.ScaleDType) -> Float {
        switch dtype {
        case .f32: return scale
        case .f16:
            let stored = HalfFloat.toFloat(HalfFloat.fromFloat(Swift.max(scale, 0x1p-14)))
            return stored
        case .bf16:
            return BFloat16.toFloat(BFloat16.fromFloat(Swift.max(scale, Float.leastNormalMagnitude)))
        }
    }

    // MARK: - One pass: row-local scales

    /// rows x cols view, `group` values per scale along each row.
    func fused(rows: Int, cols: Int, group: Int, writer: ArtifactWriter, twoLevel: TwoLevelScales? = nil) throws -> (
        [Float], [Int32]?, ErrorMetrics
    ) {
        let groups = groupsPerRow(cols: cols, group: group)
        if let twoLevel, scheme.groupScaleBits != nil {
            twoLevel.codes.withLock { $0 = [UInt8](repeating: 1, count: rows * groups) }
            twoLevel.superScales.withLock { $0 = [Float](repeating: 1, count: rows) }
        }
        let scaleStore = Mutex([Float](repeating: 1, count: rows * groups))
        let zeroStore = Mutex([Int32](repeating: 0, count: scheme.symmetric ? 0 : rows * groups))
        var metrics = ErrorMetrics()
        let lastDim = tensor.shape.last ?? 1
        for chunk in processor.chunks(rows: rows, cols: cols, whole: tensor.shape.count <= 1) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = processor.inputBuffer(elements.count)
            let out = UncheckedBox(processor.codeBuffer(elements.count))
            let job = self
            metrics.merge(
                try processor.parallel(rows: chunk.count) { range, sums in
                    let part = (range.lowerBound * cols)..<(range.upperBound * cols)
                    let values = try job.processor.source.read(
                        job.tensor, chunkStart: elements.lowerBound, part: part, into: x, kernels: job.kernels)
                    let ranges = try job.kernels.minMax(values, rows: range.count, cols: cols, group: group)
                    if ranges.nonFinite > 0 { throw PipelineError.nonFinite(job.tensor.name, ranges.nonFinite) }
                    var mins = ranges.mins
                    var maxs = ranges.maxs
                    job.scheme.clip(
                        values, rows: range.count, cols: cols, group: group, mins: &mins, maxs: &maxs, kernels: job.kernels)
                    var parameters = try job.parameters(mins: mins, maxs: maxs)
                    if let scaleBits = job.scheme.groupScaleBits, let twoLevel {
                        let split = LinearParameters.twoLevel(
                            parameters, mins: mins, scheme: job.scheme, rows: range.count, groups: groups, scaleBits: scaleBits)
                        parameters = split.parameters
                        let first = chunk.lowerBound + range.lowerBound
                        twoLevel.codes.withLock {
                            $0.replaceSubrange((first * groups)..<((first + range.count) * groups), with: split.codes)
                        }
                        twoLevel.superScales.withLock {
                            $0.replaceSubrange(first..<(first + range.count), with: split.superScales)
                        }
                    }
                    let target = UnsafeMutableBufferPointer(rebasing: out.value[part])
                    try job.quantize(
                        values, rows: range.count, cols: cols, group: group, parameters: parameters, into: target,
                        firstElement: (chunk.lowerBound + range.lowerBound) * cols, sums: &sums)
                    let base = (chunk.lowerBound + range.lowerBound) * groups
                    scaleStore.withLock { $0.replaceSubrange(base..<(base + parameters.scales.count), with: parameters.scales) }
                    if let zp = parameters.zeroPoints {
                        zeroStore.withLock { $0.replaceSubrange(base..<(base + zp.count), with: zp) }
                    }
                })
            try emit(UnsafeBufferPointer(out.value), lastDim: lastDim, writer: writer)
            try processor.done(tensor, elements: elements)
        }
        return (scaleStore.withLock { $0 }, scheme.symmetric ? nil : zeroStore.withLock { $0 }, metrics)
    }

    func quantize(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, group: Int, parameters: LinearParameters,
        into target: UnsafeMutableBufferPointer<UInt8>, firstElement: Int, sums: inout ErrorMetrics
    ) throws {
        try parameters.inverseScales.withUnsafeBufferPointer { inv in
            try parameters.scales.withUnsafeBufferPointer { scales in
                try withOptional(parameters.zeroPoints) { zp in
                    if case .stochastic(let seed) = scheme.rounding {
                        let groups = groupsPerRow(cols: cols, group: group)
                        StochasticRounding.quantize(
                            x, rows: rows, cols: cols, inverseScales: parameters.inverseScales, zeroPoints: parameters.zeroPoints,
                            qmin: scheme.qmin, qmax: scheme.qmax, key: seed ^ StochasticRounding.salt(tensor.name),
                            firstElement: firstElement,
                            scaleOf: { r, c in r * groups + c / group }, into: target)
                    } else {
                        try kernels.quantize(
                            x, rows: rows, cols: cols, group: group, invScales: inv, zeroPoints: zp, qmin: scheme.qmin,
                            qmax: scheme.qmax, into: target)
                    }
                    try kernels.linearError(
                        x, codes: UnsafeBufferPointer(target), signed: scheme.signedCodes, rows: rows, cols: cols, group: group,
                        scales: scales, zeroPoints: zp, into: &sums)
                }
            }
        }
    }

    /// Writes a chunk's codes: as they are at 8 bits, packed along the last dimension below.
    func emit(_ chunkCodes: UnsafeBufferPointer<UInt8>, lastDim: Int, writer: ArtifactWriter) throws {
        if compressedTensors { return try emitPackQuantized(chunkCodes, lastDim: lastDim, writer: writer) }
        guard scheme.bits < 8 else { return try writer.write(UnsafeRawBufferPointer(chunkCodes)) }
        let cols = Swift.max(lastDim, 1)
        let rows = chunkCodes.count / cols
        let stride = Kernels.packedRowBytes(cols: cols, bits: scheme.bits)
        let out = processor.packBuffer(rows * stride)
        try kernels.pack(chunkCodes, rows: rows, cols: cols, bits: scheme.bits, into: out)
        try writer.write(UnsafeRawBufferPointer(out))
    }

    /// compressed-tensors `pack-quantized`: each code plus 2^(bits-1) (so unsigned), packed least
    /// significant bits first into the row's little-endian int32 words, the last word zero-padded.
    func emitPackQuantized(_ chunkCodes: UnsafeBufferPointer<UInt8>, lastDim: Int, writer: ArtifactWriter) throws {
        let cols = Swift.max(lastDim, 1)
        let rows = chunkCodes.count / cols
        let offset = UInt8(1 << (scheme.bits - 1))
        let mask = UInt8(truncatingIfNeeded: (1 << scheme.bits) - 1)
        let shifted = chunkCodes.map { ($0 &+ offset) & mask }
        let byteStride = Kernels.packedRowBytes(cols: cols, bits: scheme.bits)
        let wordStride = (cols * scheme.bits + 31) / 32 * 4
        var packed = [UInt8](repeating: 0, count: rows * byteStride)
        try shifted.withUnsafeBufferPointer { codes in
            try packed.withUnsafeMutableBufferPointer {
                try kernels.pack(codes, rows: rows, cols: cols, bits: scheme.bits, into: $0)
            }
        }
        var words = [UInt8](repeating: 0, count: rows * wordStride)
        for row in 0..<rows {
            words.replaceSubrange(
                (row * wordStride)..<(row * wordStride + byteStride), with: packed[(row * byteStride)..<((row + 1) * byteStride)])
        }
        try writer.write(words)
    }

    // MARK: - Two passes: scales that span the tensor

    /// Channel of each row of the [rows, last] view for a channel axis before the last.
    func channelOfRow(_ row: Int, axis: Int) -> Int {
        let shape = tensor.shape
        let innerRows = shape[(axis + 1)..<(shape.count - 1)].reduce(1, *)
        return (row / innerRows) % shape[axis]
    }

    func twoPass(writer: ArtifactWriter) throws -> ([Float], [Int32]?, ErrorMetrics) {
        let shape = tensor.shape
        let cols = Swift.max(shape.last ?? 1, 1)
        let rows = tensor.elementCount / cols
        let whole = shape.count <= 1
        // Pass 1: ranges.
        let channels: Int
        var mins: [Float]
        var maxs: [Float]
        switch scheme.granularity {
        case .channel(let axis): channels = shape[axis]
        default: channels = 1
        }
        mins = [Float](repeating: .infinity, count: channels)
        maxs = [Float](repeating: -.infinity, count: channels)
        for chunk in processor.chunks(rows: rows, cols: cols, whole: whole) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = try processor.read(tensor, elements: elements)
            switch scheme.granularity {
            case .channel(let axis) where axis == shape.count - 1:
                let r = try kernels.columnMinMax(x, rows: chunk.count, cols: cols)
                if r.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, r.nonFinite) }
                for c in 0..<cols {
                    mins[c] = Swift.min(mins[c], r.mins[c])
                    maxs[c] = Swift.max(maxs[c], r.maxs[c])
                }
            case .channel(let axis):
                let r = try kernels.minMax(x, rows: chunk.count, cols: cols, group: cols)
                if r.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, r.nonFinite) }
                for i in 0..<chunk.count {
                    let c = channelOfRow(chunk.lowerBound + i, axis: axis)
                    mins[c] = Swift.min(mins[c], r.mins[i])
                    maxs[c] = Swift.max(maxs[c], r.maxs[i])
                }
            default:
                let r = try kernels.minMax(x, rows: 1, cols: x.count, group: Swift.max(x.count, 1))
                if r.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, r.nonFinite) }
                mins[0] = Swift.min(mins[0], r.mins[0])
                maxs[0] = Swift.max(maxs[0], r.maxs[0])
            }
            source.release(tensor, elements: elements)
        }
        let parameters = try self.parameters(mins: mins, maxs: maxs)

        // Pass 2: codes with the fixed parameters.
        var metrics = ErrorMetrics()
        for chunk in processor.chunks(rows: rows, cols: cols, whole: whole) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = try processor.read(tensor, elements: elements)
            let out = processor.codeBuffer(elements.count)
            switch scheme.granularity {
            case .channel(let axis) where axis == shape.count - 1:
                try quantizeColumns(
                    x, rows: chunk.count, cols: cols, parameters: parameters, into: out, firstElement: elements.lowerBound,
                    sums: &metrics)
            case .channel(let axis):
                let rowParameters = LinearParameters(
                    scales: (chunk).map { parameters.scales[channelOfRow($0, axis: axis)] },
                    zeroPoints: parameters.zeroPoints.map { zp in chunk.map { zp[channelOfRow($0, axis: axis)] } })
                try quantize(
                    x, rows: chunk.count, cols: cols, group: cols, parameters: rowParameters, into: out,
                    firstElement: elements.lowerBound, sums: &metrics)
            default:
                try quantize(
                    x, rows: 1, cols: x.count, group: Swift.max(x.count, 1), parameters: parameters, into: out,
                    firstElement: elements.lowerBound, sums: &metrics)
            }
            try emit(UnsafeBufferPointer(out), lastDim: cols, writer: writer)
            try processor.done(tensor, elements: elements)
        }
        return (parameters.scales, parameters.zeroPoints, metrics)
    }

    var source: SourceModel { processor.source }

    func quantizeColumns(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, parameters: LinearParameters,
        into out: UnsafeMutableBufferPointer<UInt8>, firstElement: Int, sums: inout ErrorMetrics
    ) throws {
        let reconstruction = processor.reconstructionBuffer(x.count)
        try parameters.inverseScales.withUnsafeBufferPointer { inv in
            try parameters.scales.withUnsafeBufferPointer { scales in
                try withOptional(parameters.zeroPoints) { zp in
                    if case .stochastic(let seed) = scheme.rounding {
                        StochasticRounding.quantize(
                            x, rows: rows, cols: cols, inverseScales: parameters.inverseScales, zeroPoints: parameters.zeroPoints,
                            qmin: scheme.qmin, qmax: scheme.qmax, key: seed ^ StochasticRounding.salt(tensor.name),
                            firstElement: firstElement,
                            scaleOf: { _, c in c }, into: out)
                    } else {
                        try kernels.quantizeColumns(
                            x, rows: rows, cols: cols, invScales: inv, zeroPoints: zp, qmin: scheme.qmin, qmax: scheme.qmax,
                            into: out)
                    }
                    try kernels.dequantizeColumns(
                        UnsafeBufferPointer(out), signed: scheme.signedCodes, rows: rows, cols: cols, scales: scales,
                        zeroPoints: zp, into: reconstruction)
                }
            }
        }
        try kernels.error(x, reconstructed: UnsafeBufferPointer(reconstruction), into: &sums)
    }
}

/// The second level of two-level scales, filled by the workers of `fused`: the integer group
/// scales and one F32 super-scale per row.
final class TwoLevelScales: Sendable {
    let codes = Mutex([UInt8]())
    let superScales = Mutex([Float]())
}
