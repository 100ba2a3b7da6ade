import Int8Kernels
import ModelFormats
import Synchronization

/// Binary and ternary weights, one scale per output channel (rows of the [d0, rest] view):
/// - binary (XNOR-Net): scale = mean |w|, code 1 for w >= 0 (+scale) and 0 otherwise (-scale);
/// - ternary (TWN): threshold t = 0.7 mean |w|; code +1 above t, -1 below -t, else 0; scale = the
///   mean |w| of the codes that are not 0 (1 when there are none, every code then being 0).
struct SignTensorEncoder: @unchecked Sendable {
    let processor: TensorProcessor
    let tensor: SourceTensor
    let ternary: Bool

    /// The scale and codes of one channel; codes are stored as bytes (two's complement for -1).
    static func quantize(_ w: UnsafeBufferPointer<Float>, ternary: Bool, codes: UnsafeMutableBufferPointer<UInt8>) -> Float {
        guard !w.isEmpty else { return 1 }
        var sum: Double = 0
        for v in w { sum += Double(abs(v)) }
        let meanAbs = Float(sum / Double(w.count))
        if !ternary {
            for i in w.indices { codes[i] = w[i] >= 0 ? 1 : 0 }
            return meanAbs
        }
        let threshold = 0.7 * meanAbs
        var kept: Double = 0
        var count = 0
        for i in w.indices {
            let v = w[i]
            if v > threshold {
                codes[i] = 1
            } else if v < -threshold {
                codes[i] = 0xFF
            } else {
                codes[i] = 0
                continue
            }
            kept += Double(abs(v))
            count += 1
        }
        return count == 0 ? 1 : Float(kept / Double(count))
    }

    /// The value a code stands for, before the scale.
    static func value(_ code: UInt8, ternary: Bool) -> Float {
        ternary ? Float(Int8(bitPattern: code)) : (code & 1 == 1 ? 1 : -1)
    }

    func run(into writer: ArtifactWriter) throws -> ErrorMetrics {
        let channels = tensor.shape[0]
        let perChannel = channels == 0 ? 0 : tensor.elementCount / channels
        var scales = [Float](repeating: 1, count: channels)
        let kernels = processor.kernels
        let metrics = try processor.writeCodes(tensor, rows: channels, cols: perChannel, bits: ternary ? 2 : 1, into: writer) {
            chunk, x, codes, reconstruction in
            for (offset, channel) in chunk.enumerated() {
                let part = (offset * perChannel)..<((offset + 1) * perChannel)
                let values = UnsafeBufferPointer(rebasing: x[part])
                let ranges = try kernels.minMax(
                    values, rows: 1, cols: Swift.max(values.count, 1), group: Swift.max(values.count, 1))
                if ranges.nonFinite > 0 { throw PipelineError.nonFinite(tensor.name, ranges.nonFinite) }
                let scale = Self.quantize(values, ternary: ternary, codes: UnsafeMutableBufferPointer(rebasing: codes[part]))
                scales[channel] = scale
                for i in part { reconstruction[i] = scale * Self.value(codes[i], ternary: ternary) }
            }
        }
        try writer.write(try FloatCodec.fromFloat32(.f32, scales))
        return metrics
    }
}
