import Int8Kernels
import Synchronization

/// Error metrics gathered by concurrent workers while they quantize: each chunk's error is taken
/// from cache right after it is quantized (r is rebuilt in registers), so measuring costs no extra
/// pass over the tensor.
final class MetricsBox: Sendable {
    private let total = Mutex(ErrorMetrics())

    var value: ErrorMetrics { total.withLock { $0 } }

    func measure(
        _ x: UnsafeBufferPointer<Float>, codes: UnsafeBufferPointer<UInt8>, signed: Bool, rows: Int, cols: Int, group: Int,
        parameters: LinearParameters, kernels: Kernels
    ) throws {
        var chunk = ErrorMetrics()
        try parameters.scales.withUnsafeBufferPointer { scales in
            try withOptional(parameters.zeroPoints) { zeros in
                try kernels.linearError(
                    x, codes: codes, signed: signed, rows: rows, cols: cols, group: group, scales: scales, zeroPoints: zeros,
                    into: &chunk)
            }
        }
        total.withLock { $0.merge(chunk) }
    }
}

extension LinearQuantizer {
    /// Quantizes (packing below 8 bits when `packed`) and measures the reconstruction error. For group
    /// and axis-0 channel scales the metrics come from the same chunked pass; other granularities
    /// dequantize the result afterwards.
    public func quantizeMeasured(
        _ x: UnsafeBufferPointer<Float>, shape: [Int], packed: Bool, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws -> (LinearParameters, ErrorMetrics) {
        let layout = try TensorLayout(shape: shape, granularity: scheme.granularity)
        let packBits = packed && scheme.bits < 8 ? scheme.bits : nil
        let needed = packBits == nil ? x.count : packedByteCount(shape: shape)
        guard x.count == shape.reduce(1, *), out.count >= needed else {
            throw QuantError.invalidShape("\(x.count) values and room for \(out.count) bytes, for shape \(shape)")
        }
        let box = MetricsBox()
        switch layout {
        case .groups(let rows, let cols, let size):
            let p = try quantizeFused(x, rows: rows, cols: cols, group: size, into: out, packBits: packBits, metrics: box)
            return (p, box.value)
        case .channelRows(1, let channels, let inner) where packBits == nil || shape.count == 2:
            let p = try quantizeFused(x, rows: channels, cols: inner, group: inner, into: out, packBits: packBits, metrics: box)
            return (p, box.value)
        default:
            let q = try quantize(x, shape: shape)
            let reconstructed = try dequantize(q)
            var metrics = ErrorMetrics()
            reconstructed.withUnsafeBufferPointer { metrics.add(original: x, reconstructed: $0) }
            if let packBits {
                let last = shape.last ?? 1
                try q.codes.withUnsafeBufferPointer {
                    try kernels.pack($0, rows: last == 0 ? 0 : x.count / last, cols: last, bits: packBits, into: out)
                }
            } else {
                _ = UnsafeMutableBufferPointer(rebasing: out[0..<x.count]).initialize(from: q.codes)
            }
            return (q.parameters, metrics)
        }
    }
}
