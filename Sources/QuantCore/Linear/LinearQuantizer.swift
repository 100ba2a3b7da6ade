import Int8Kernels

/// Min-max linear quantization with round-to-nearest (half to even), on the int8 kernels.
///
/// Work runs in row chunks: the range of a chunk is taken and the chunk quantized while it is still
/// in cache, on up to `threads` threads. Per-channel scales that span several blocks (a channel axis
/// that is not the first) take one range pass over the tensor first.
public struct LinearQuantizer: Sendable {
    public let scheme: LinearScheme
    public let kernels: Kernels
    public let threads: Int

    public init(scheme: LinearScheme, kernels: Kernels = .best, threads: Int = 1) {
        self.scheme = scheme
        self.kernels = kernels
        self.threads = Swift.max(1, threads)
    }

    /// Quantizes `x` of `shape`. Non-finite inputs are an error (`QuantError.nonFinite`).
    public func quantize(_ x: UnsafeBufferPointer<Float>, shape: [Int]) throws -> QuantizedTensor {
        let layout = try TensorLayout(shape: shape, granularity: scheme.granularity)
        let count = shape.reduce(1, *)
        guard x.count == count else { throw QuantError.invalidShape("\(x.count) values for shape \(shape)") }
        var codes = [UInt8](repeating: 0, count: count)
        let parameters = try codes.withUnsafeMutableBufferPointer { out in
            try quantize(x, layout: layout, into: out)
        }
        return QuantizedTensor(scheme: scheme, shape: shape, codes: codes, parameters: parameters)
    }

    /// Quantizes into a caller's buffer of one byte per element (no allocation for the codes).
    public func quantize(
        _ x: UnsafeBufferPointer<Float>, shape: [Int], into out: UnsafeMutableBufferPointer<UInt8>
    ) throws -> LinearParameters {
        let layout = try TensorLayout(shape: shape, granularity: scheme.granularity)
        let count = shape.reduce(1, *)
        guard x.count == count, out.count >= count else {
            throw QuantError.invalidShape("\(x.count) values and room for \(out.count) codes, for shape \(shape)")
        }
        return try quantize(x, layout: layout, into: out)
    }

    /// Reconstructs fp32 values: r = scale * (q - zeroPoint).
    public func dequantize(_ q: QuantizedTensor) throws -> [Float] {
        let layout = try TensorLayout(shape: q.shape, granularity: q.scheme.granularity)
        var out = [Float](repeating: 0, count: q.elementCount)
        try q.codes.withUnsafeBufferPointer { codes in
            try q.parameters.scales.withUnsafeBufferPointer { scales in
                try withOptional(q.parameters.zeroPoints) { zeros in
                    try out.withUnsafeMutableBufferPointer { result in
                        try dequantize(
                            codes, signed: q.scheme.signedCodes, layout: layout, scales: scales, zeros: zeros, into: result)
                    }
                }
            }
        }
        return out
    }

    // MARK: - Implementation

    private func quantize(
        _ x: UnsafeBufferPointer<Float>, layout: TensorLayout, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws -> LinearParameters {
        guard scheme.rounding == .nearest else {
            throw QuantError.invalidScheme(
                "stochastic rounding runs in the pipeline (Pipeline.run); LinearQuantizer rounds to nearest")
        }
        switch layout {
        case .tensor(let count):
            let (lo, hi) = try range(x, rows: 1, cols: count)
            let parameters = LinearParameters.from(mins: [lo], maxs: [hi], scheme: scheme)
            try quantizeRuns(x, runLength: count, scaleOf: { _ in 0 }, parameters: parameters, into: out)
            return parameters
        case .channelRows(let outer, let channels, let inner) where outer == 1:
            return try quantizeFused(x, rows: channels, cols: inner, group: inner, into: out)
        case .groups(let rows, let cols, let size):
            return try quantizeFused(x, rows: rows, cols: cols, group: size, into: out)
        case .channelRows(let outer, let channels, let inner):
            let ranges = try kernels.minMax(x, rows: outer * channels, cols: inner, group: inner)
            try checkFinite(ranges.nonFinite)
            var mins = [Float](repeating: .infinity, count: channels)
            var maxs = [Float](repeating: -.infinity, count: channels)
            for row in 0..<(outer * channels) {
                mins[row % channels] = Swift.min(mins[row % channels], ranges.mins[row])
                maxs[row % channels] = Swift.max(maxs[row % channels], ranges.maxs[row])
            }
            let parameters = LinearParameters.from(mins: mins, maxs: maxs, scheme: scheme)
            try quantizeRuns(x, runLength: inner, scaleOf: { $0 % channels }, parameters: parameters, into: out)
            return parameters
        case .channelColumns(let rows, let channels):
            let (mins, maxs) = try columnRanges(x, rows: rows, cols: channels)
            let parameters = LinearParameters.from(mins: mins, maxs: maxs, scheme: scheme)
            let inverse = parameters.inverseScales
            try inverse.withUnsafeBufferPointer { inv in
                try withOptional(parameters.zeroPoints) { zeros in
                    try kernels.quantizeColumns(
                        x, rows: rows, cols: channels, invScales: inv, zeroPoints: zeros, qmin: scheme.qmin, qmax: scheme.qmax,
                        into: out)
                }
            }
            return parameters
        }
    }

    /// Rows with their own scales (per row, or per group within rows): range then quantize each
    /// chunk of rows while it is in cache.
    func quantizeFused(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, group: Int, into out: UnsafeMutableBufferPointer<UInt8>,
        packBits: Int? = nil, metrics: MetricsBox? = nil
    ) throws -> LinearParameters {
        let groups = groupsPerRow(cols: cols, group: Swift.max(group, 1))
        var scales = [Float](repeating: 1, count: rows * groups)
        var zeros: [Int32]? = scheme.symmetric ? nil : [Int32](repeating: 0, count: rows * groups)
        guard rows > 0 && cols > 0 else { return LinearParameters(scales: scales, zeroPoints: zeros) }
        // Chunks of ~256 KiB of input: in L2 between the range pass and the quantize pass.
        let chunkRows = Swift.max(1, (256 << 10) / Swift.max(1, cols * 4))
        let chunks = (rows + chunkRows - 1) / chunkRows
        let failures = ErrorBox()
        let scheme = scheme
        let kernels = kernels
        var zeroStorage = zeros ?? []
        scales.withUnsafeMutableBufferPointer { scalePointer in
            zeroStorage.withUnsafeMutableBufferPointer { zeroPointer in
                let input = UncheckedBox(x)
                let output = UncheckedBox(out)
                let scaleOut = UncheckedBox(scalePointer)
                let zeroOut = UncheckedBox(zeroPointer)
                Parallel.rows(chunks, threads: threads) { chunkRange in
                    for chunk in chunkRange {
                        let first = chunk * chunkRows
                        let count = Swift.min(chunkRows, rows - first)
                        let elements = (first * cols)..<((first + count) * cols)
                        do {
                            let slice = UnsafeBufferPointer(rebasing: input.value[elements])
                            let ranges = try kernels.minMax(slice, rows: count, cols: cols, group: group)
                            if ranges.nonFinite > 0 {
                                throw QuantError.nonFinite(
                                    "\(ranges.nonFinite) NaN or Inf values in rows \(first)..<\(first + count); clean the tensor or exclude it from quantization"
                                )
                            }
                            var mins = ranges.mins
                            var maxs = ranges.maxs
                            scheme.clip(slice, rows: count, cols: cols, group: group, mins: &mins, maxs: &maxs)
                            let parameters = LinearParameters.from(mins: mins, maxs: maxs, scheme: scheme)
                            let base = first * groups
                            for i in parameters.scales.indices {
                                scaleOut.value[base + i] = parameters.scales[i]
                                if let zp = parameters.zeroPoints { zeroOut.value[base + i] = zp[i] }
                            }
                            try parameters.inverseScales.withUnsafeBufferPointer { inv in
                                try withOptional(parameters.zeroPoints) { zp in
                                    if let bits = packBits {
                                        // Quantize into a chunk-sized buffer, then pack it into this chunk's rows.
                                        var codes = [UInt8](repeating: 0, count: elements.count)
                                        try codes.withUnsafeMutableBufferPointer { chunkCodes in
                                            try kernels.quantize(
                                                slice, rows: count, cols: cols, group: group, invScales: inv, zeroPoints: zp,
                                                qmin: scheme.qmin, qmax: scheme.qmax, into: chunkCodes)
                                            let stride = Kernels.packedRowBytes(cols: cols, bits: bits)
                                            try kernels.pack(
                                                UnsafeBufferPointer(chunkCodes), rows: count, cols: cols, bits: bits,
                                                into: UnsafeMutableBufferPointer(
                                                    rebasing: output.value[(first * stride)..<((first + count) * stride)]))
                                            try metrics?.measure(
                                                slice, codes: UnsafeBufferPointer(chunkCodes), signed: scheme.signedCodes,
                                                rows: count, cols: cols, group: group, parameters: parameters, kernels: kernels)
                                        }
                                    } else {
                                        let target = UnsafeMutableBufferPointer(rebasing: output.value[elements])
                                        try kernels.quantize(
                                            slice, rows: count, cols: cols, group: group, invScales: inv, zeroPoints: zp,
                                            qmin: scheme.qmin,
                                            qmax: scheme.qmax, into: target)
                                        try metrics?.measure(
                                            slice, codes: UnsafeBufferPointer(target), signed: scheme.signedCodes, rows: count,
                                            cols: cols, group: group, parameters: parameters, kernels: kernels)
                                    }
                                }
                            }
                        } catch {
                            failures.record(error)
                        }
                    }
                }
            }
        }
        try failures.rethrow()
        if zeros != nil { zeros = zeroStorage }
        return LinearParameters(scales: scales, zeroPoints: zeros)
    }

    /// Quantizes consecutive runs of `runLength` elements; run i uses scale `scaleOf(i)`.
    private func quantizeRuns(
        _ x: UnsafeBufferPointer<Float>, runLength: Int, scaleOf: @escaping @Sendable (Int) -> Int, parameters: LinearParameters,
        into out: UnsafeMutableBufferPointer<UInt8>
    ) throws {
        guard runLength > 0, !x.isEmpty else { return }
        // Split long runs (per-tensor) into pieces so both cores work.
        let piece = Swift.min(runLength, 1 << 16)
        let piecesPerRun = (runLength + piece - 1) / piece
        let runs = x.count / runLength
        let inverse = parameters.inverseScales
        let zeros = parameters.zeroPoints
        let input = UncheckedBox(x)
        let output = UncheckedBox(out)
        let failures = ErrorBox()
        let scheme = scheme
        let kernels = kernels
        Parallel.rows(runs * piecesPerRun, threads: threads) { range in
            for index in range {
                let run = index / piecesPerRun
                let start = run * runLength + (index % piecesPerRun) * piece
                let end = Swift.min(run * runLength + runLength, start + piece)
                let s = scaleOf(run)
                do {
                    try [inverse[s]].withUnsafeBufferPointer { inv in
                        try withOptional(zeros.map { [$0[s]] }) { zp in
                            try kernels.quantize(
                                UnsafeBufferPointer(rebasing: input.value[start..<end]), rows: 1, cols: end - start,
                                group: end - start,
                                invScales: inv, zeroPoints: zp, qmin: scheme.qmin, qmax: scheme.qmax,
                                into: UnsafeMutableBufferPointer(rebasing: output.value[start..<end]))
                        }
                    }
                } catch {
                    failures.record(error)
                }
            }
        }
        try failures.rethrow()
    }

    private func range(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int) throws -> (Float, Float) {
        // Parallel partial ranges over pieces, combined.
        let piece = 1 << 18
        let pieces = Swift.max(1, (x.count + piece - 1) / piece)
        let results = ResultsBox(count: pieces)
        let input = UncheckedBox(x)
        let kernels = kernels
        let failures = ErrorBox()
        Parallel.rows(pieces, threads: threads) { range in
            for index in range {
                let start = index * piece
                let end = Swift.min(input.value.count, start + piece)
                guard start < end else { continue }
                do {
                    let r = try kernels.minMax(
                        UnsafeBufferPointer(rebasing: input.value[start..<end]), rows: 1, cols: end - start, group: end - start)
                    results.set(index, (r.mins[0], r.maxs[0], r.nonFinite))
                } catch {
                    failures.record(error)
                }
            }
        }
        try failures.rethrow()
        var lo = Float.infinity
        var hi = -Float.infinity
        var bad = 0
        for (a, b, n) in results.values {
            lo = Swift.min(lo, a)
            hi = Swift.max(hi, b)
            bad += n
        }
        try checkFinite(bad)
        return (lo, hi)
    }

    private func columnRanges(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int) throws -> ([Float], [Float]) {
        let ranges = try kernels.columnMinMax(x, rows: rows, cols: cols)
        try checkFinite(ranges.nonFinite)
        return (ranges.mins, ranges.maxs)
    }

    private func checkFinite(_ count: Int) throws {
        if count > 0 {
            throw QuantError.nonFinite("\(count) NaN or Inf values; clean the tensor or exclude it from quantization")
        }
    }

    private func dequantize(
        _ codes: UnsafeBufferPointer<UInt8>, signed: Bool, layout: TensorLayout, scales: UnsafeBufferPointer<Float>,
        zeros: UnsafeBufferPointer<Int32>?, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        switch layout {
        case .tensor(let count):
            try kernels.dequantize(
                codes, signed: signed, rows: 1, cols: count, group: Swift.max(count, 1), scales: scales, zeroPoints: zeros,
                into: out)
        case .groups(let rows, let cols, let size):
            try kernels.dequantize(
                codes, signed: signed, rows: rows, cols: cols, group: size, scales: scales, zeroPoints: zeros, into: out)
        case .channelRows(let outer, let channels, let inner):
            for o in 0..<outer {
                let range = (o * channels * inner)..<((o + 1) * channels * inner)
                try kernels.dequantize(
                    UnsafeBufferPointer(rebasing: codes[range]), signed: signed, rows: channels, cols: inner,
                    group: Swift.max(inner, 1),
                    scales: scales, zeroPoints: zeros, into: UnsafeMutableBufferPointer(rebasing: out[range]))
            }
        case .channelColumns(let rows, let channels):
            try kernels.dequantizeColumns(
                codes, signed: signed, rows: rows, cols: channels, scales: scales, zeroPoints: zeros, into: out)
        }
    }
}
