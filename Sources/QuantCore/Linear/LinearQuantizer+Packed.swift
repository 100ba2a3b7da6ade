import Int8Kernels

extension LinearQuantizer {
    /// Bytes of the packed form of `shape` at this scheme's bit width: every row of the last
    /// dimension padded to whole bytes (the artifact layout).
    public func packedByteCount(shape: [Int]) -> Int {
        guard let last = shape.last else { return Kernels.packedRowBytes(cols: 1, bits: scheme.bits) }
        let rows = last == 0 ? 0 : shape.reduce(1, *) / last
        return rows * Kernels.packedRowBytes(cols: last, bits: scheme.bits)
    }

    /// Quantizes and packs to `scheme.bits` bits per code. For group and axis-0 channel scales this
    /// is one streaming pass: row chunks are quantized into a small buffer and packed from cache.
    /// Other granularities quantize the whole tensor to bytes first, then pack.
    public func quantizePacked(
        _ x: UnsafeBufferPointer<Float>, shape: [Int], into packed: UnsafeMutableBufferPointer<UInt8>
    ) throws -> LinearParameters {
        let last = shape.last ?? 1
        let rows = last == 0 ? 0 : x.count / last
        guard x.count == shape.reduce(1, *) else { throw QuantError.invalidShape("\(x.count) values for shape \(shape)") }
        guard packed.count >= packedByteCount(shape: shape) else {
            throw QuantError.invalidShape("packed output holds \(packed.count) bytes, need \(packedByteCount(shape: shape))")
        }
        if scheme.bits == 8 {
            return try quantize(x, shape: shape, into: packed)
        }
        switch try TensorLayout(shape: shape, granularity: scheme.granularity) {
        case .groups(let rows, let cols, let size):
            return try quantizeFused(x, rows: rows, cols: cols, group: size, into: packed, packBits: scheme.bits)
        case .channelRows(1, let channels, let inner) where shape.count == 2:
            return try quantizeFused(x, rows: channels, cols: inner, group: inner, into: packed, packBits: scheme.bits)
        default:
            break
        }
        var codes = [UInt8](repeating: 0, count: x.count)
        let parameters = try codes.withUnsafeMutableBufferPointer { try quantize(x, shape: shape, into: $0) }
        let stride = Kernels.packedRowBytes(cols: last, bits: scheme.bits)
        let chunkRows = Swift.max(1, (64 << 10) / Swift.max(1, last))
        let failures = ErrorBox()
        let kernels = kernels
        let bits = scheme.bits
        try codes.withUnsafeBufferPointer { source in
            let input = UncheckedBox(source)
            let output = UncheckedBox(packed)
            Parallel.rows((rows + chunkRows - 1) / chunkRows, threads: threads) { range in
                for chunk in range {
                    let first = chunk * chunkRows
                    let count = Swift.min(chunkRows, rows - first)
                    do {
                        try kernels.pack(
                            UnsafeBufferPointer(rebasing: input.value[(first * last)..<((first + count) * last)]), rows: count,
                            cols: last,
                            bits: bits,
                            into: UnsafeMutableBufferPointer(
                                rebasing: output.value[(first * stride)..<((first + count) * stride)]))
                    } catch {
                        failures.record(error)
                    }
                }
            }
            try failures.rethrow()
        }
        return parameters
    }
}
