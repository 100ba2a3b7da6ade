import Foundation

/// KL (entropy) calibration as TensorRT introduced it and ONNX Runtime implements it
/// (`onnxruntime.quantization.calibrate.HistogramCollector.get_entropy_threshold`): of the ranges
/// centred on zero in a histogram of the values over [-amax, amax], pick the one whose histogram,
/// squeezed into `quantizedBins` bins and expanded back, loses the least information (KL divergence)
/// against the original with the outliers folded into its end bins.
///
/// It follows ONNX Runtime step for step (including its integer truncation of the expanded
/// distribution and its smoothing with eps = 1e-4), so both pick the same range; the interop test
/// checks they agree within one histogram bin. Static activation calibration (calibrator "kl") uses it too.
public enum EntropyCalibration {
    /// A histogram of values over [-threshold, threshold] in `bins` equal bins, as
    /// `numpy.histogram(x, bins, range=(-t, t))` with t = max |x|.
    public struct Histogram: Sendable, Equatable {
        public var counts: [Int64]
        public let threshold: Float
        public let minimum: Float
        public let maximum: Float

        public init(_ values: UnsafeBufferPointer<Float>, bins: Int) {
            var lo = Float.infinity
            var hi = -Float.infinity
            for v in values where !v.isNaN {
                lo = Swift.min(lo, v)
                hi = Swift.max(hi, v)
            }
            if values.isEmpty || lo > hi {
                lo = 0
                hi = 0
            }
            minimum = lo
            maximum = hi
            threshold = Swift.max(abs(lo), abs(hi))
            counts = [Int64](repeating: 0, count: Swift.max(bins, 1))
            guard threshold > 0 else {
                counts[counts.count / 2] = Int64(values.count)
                return
            }
            let scale = Double(counts.count) / (2 * Double(threshold))
            for v in values where !v.isNaN {
                let bin = Int(((Double(v) + Double(threshold)) * scale).rounded(.down))
                counts[Swift.min(Swift.max(bin, 0), counts.count - 1)] += 1
            }
        }

        /// The left edge of `bin` (bins + 1 edges from -threshold to threshold).
        public func edge(_ bin: Int) -> Float {
            -threshold + 2 * threshold * Float(bin) / Float(counts.count)
        }
    }

    /// The (lower, upper) range of least KL divergence, clamped to the data's own min and max.
    public static func range(_ histogram: Histogram, quantizedBins: Int) -> (lower: Float, upper: Float) {
        let hist = histogram.counts
        let bins = hist.count
        let zero = bins / 2
        let half = quantizedBins / 2
        guard histogram.threshold > 0, half <= zero, quantizedBins > 0 else { return (histogram.minimum, histogram.maximum) }
        var prefix = [Int64](repeating: 0, count: bins + 1)
        for i in 0..<bins { prefix[i + 1] = prefix[i] + hist[i] }
        var best = (divergence: Double.infinity, start: 0, end: bins)
        for i in half...zero {
            let start = zero - i
            let end = Swift.min(zero + i + 1, bins)
            let sliced = Array(hist[start..<end])
            var p = sliced.map(Double.init)
            p[0] += Double(prefix[start])
            p[p.count - 1] += Double(prefix[bins] - prefix[end])
            let merged = sliced.count / quantizedBins
            var quantized = [Int64](repeating: 0, count: quantizedBins)
            for j in 0..<quantizedBins { quantized[j] = sliced[(j * merged)..<((j + 1) * merged)].reduce(0, +) }
            quantized[quantizedBins - 1] += sliced[(quantizedBins * merged)...].reduce(0, +)
            // Expanded back over the non-empty bins of p; ONNX Runtime stores this in an int64
            // array, which truncates the quotient.
            var q = [Double](repeating: 0, count: p.count)
            for j in 0..<quantizedBins {
                let range = (j * merged)..<((j + 1) * merged)
                let norm = range.reduce(0) { $0 + (p[$1] != 0 ? 1 : 0) }
                if norm != 0 {
                    let value = (Double(quantized[j]) / Double(norm)).rounded(.towardZero)
                    for k in range { q[k] = value }
                }
            }
            let divergence: Double
            if let ps = smooth(p), let qs = smooth(q) {
                divergence = kl(ps, qs)
            } else {
                divergence = .infinity
            }
            if divergence < best.divergence { best = (divergence, start, end) }
        }
        return (Swift.max(histogram.edge(best.start), histogram.minimum), Swift.min(histogram.edge(best.end), histogram.maximum))
    }

    /// Zeros become eps, taken off the non-zero entries (nil when all are zero). In fp32, as
    /// ONNX Runtime computes it: the divergences of neighbouring ranges differ by less than fp32's
    /// rounding, so a double-precision version can pick a range a few bins away.
    static func smooth(_ p: [Double], eps: Double = 0.0001) -> [Float]? {
        let zeros = p.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        let nonZeros = p.count - zeros
        guard nonZeros > 0 else { return nil }
        let taken = Float(-(eps * Double(zeros) / Double(nonZeros)))
        return p.map { $0 == 0 ? Float(0) + Float(eps) : Float($0) + taken }
    }

    /// KL(p || q) of the normalised distributions, in nats, in fp32 with NumPy's pairwise sums
    /// (ONNX Runtime's `entropy`).
    static func kl(_ p: [Float], _ q: [Float]) -> Double {
        let sp = pairwiseSum(p[...])
        let sq = pairwiseSum(q[...])
        var terms = [Float](repeating: 0, count: p.count)
        for i in p.indices {
            let pa = p[i] / sp
            let qb = q[i] / sq
            if pa == 0 { continue }  // 0 log 0 = 0
            guard qb > 0 else { return .infinity }
            terms[i] = pa * Foundation.log(pa / qb)
        }
        return Double(pairwiseSum(terms[...]))
    }

    /// NumPy's pairwise summation of float32 (8 accumulators per block of up to 128 values).
    static func pairwiseSum(_ a: ArraySlice<Float>) -> Float {
        let n = a.count
        let base = a.startIndex
        if n < 8 { return a.reduce(Float(0)) { $0 + $1 } }
        if n <= 128 {
            var r = (0..<8).map { a[base + $0] }
            var i = 8
            while i < n - n % 8 {
                for k in 0..<8 { r[k] += a[base + i + k] }
                i += 8
            }
            var result = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            while i < n {
                result += a[base + i]
                i += 1
            }
            return result
        }
        var half = n / 2
        half -= half % 8
        return pairwiseSum(a[base..<(base + half)]) + pairwiseSum(a[(base + half)...])
    }
}
