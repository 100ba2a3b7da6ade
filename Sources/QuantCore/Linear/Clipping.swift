import Int8Kernels

/// How the range of a group (or channel) is chosen before its scale is computed.
public enum ClippingMethod: Equatable, Sendable {
    /// The full range: nothing is clipped.
    case minmax
    /// The range that keeps `percentile` percent of the values (of |x| when symmetric).
    case percentile(Double)
    /// The shrink of the min-max range, among `steps` candidates from 1.0 down to 0.3, with the
    /// smallest reconstruction error of that group.
    case mse(steps: Int)
    /// KL (entropy) calibration over a histogram of `bins` bins (see `EntropyCalibration`), with
    /// 2^(bits-1) quantized bins (128 at 8 bits, ONNX Runtime's default).
    case kl(bins: Int)

    public var name: String {
        switch self {
        case .minmax: "minmax"
        case .percentile: "percentile"
        case .mse: "mse"
        case .kl: "kl"
        }
    }
}

extension LinearScheme {
    /// Narrows min-max ranges per group according to `clipping`. `x` is rows x cols with `group`
    /// values per range along each row (one range per row when group == cols).
    func clip(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, group: Int, mins: inout [Float], maxs: inout [Float],
        kernels: Kernels = .best
    ) {
        guard clipping != .minmax, group > 0 else { return }
        let groups = (cols + group - 1) / group
        var scratch: [Float] = []
        for r in 0..<rows {
            for g in 0..<groups {
                let start = r * cols + g * group
                let end = r * cols + Swift.min(cols, (g + 1) * group)
                let values = UnsafeBufferPointer(rebasing: x[start..<end])
                let i = r * groups + g
                switch clipping {
                case .minmax:
                    break
                case .percentile(let p):
                    scratch.removeAll(keepingCapacity: true)
                    if symmetric {
                        scratch.append(contentsOf: values.lazy.map { abs($0) })
                        scratch.sort()
                        let bound = Self.quantile(scratch, p / 100)
                        mins[i] = Swift.max(mins[i], -bound)
                        maxs[i] = Swift.min(maxs[i], bound)
                    } else {
                        scratch.append(contentsOf: values)
                        scratch.sort()
                        mins[i] = Swift.max(mins[i], Self.quantile(scratch, 1 - p / 100))
                        maxs[i] = Swift.min(maxs[i], Self.quantile(scratch, p / 100))
                    }
                case .mse(let steps):
                    let shrink = bestShrink(values, lo: mins[i], hi: maxs[i], steps: steps, kernels: kernels)
                    mins[i] *= shrink
                    maxs[i] *= shrink
                case .kl(let bins):
                    let histogram = EntropyCalibration.Histogram(values, bins: bins)
                    let range = EntropyCalibration.range(histogram, quantizedBins: 1 << (bits - 1))
                    mins[i] = Swift.max(mins[i], range.lower)
                    maxs[i] = Swift.min(maxs[i], range.upper)
                }
            }
        }
    }

    /// Linear interpolation between order statistics of sorted values.
    static func quantile(_ sorted: [Float], _ q: Double) -> Float {
        guard !sorted.isEmpty else { return 0 }
        let position = Swift.min(Swift.max(q, 0), 1) * Double(sorted.count - 1)
        let below = Int(position.rounded(.down))
        let above = Swift.min(sorted.count - 1, below + 1)
        let t = Float(position - Double(below))
        return sorted[below] + (sorted[above] - sorted[below]) * t
    }

    /// The factor in [0.3, 1] that, applied to the range, minimises the squared reconstruction error
    /// of these values (1 is always a candidate, so the result is never worse than min-max).
    func bestShrink(_ values: UnsafeBufferPointer<Float>, lo: Float, hi: Float, steps: Int, kernels: Kernels = .best) -> Float {
        var best: Float = 1
        var bestError = Double.infinity
        let candidates = Swift.max(steps, 1)
        // Candidates near a shrink of 0.9 first (where the best usually is), so the others stop
        // after a block or two; ties still go to the larger factor, so the order changes nothing.
        let likely = Swift.min(candidates - 1, candidates / 6)
        for j in 0..<(2 * candidates) {
            // likely, likely + 1, likely - 1, likely + 2, ... within range.
            let k = likely + (j % 2 == 1 ? (j + 1) / 2 : -(j / 2))
            guard k >= 0 && k < candidates else { continue }
            let factor = 1 - 0.7 * Float(k) / Float(Swift.max(candidates - 1, 1))
            let parameters = LinearParameters.single(min: lo * factor, max: hi * factor, scheme: self)
            let scale = parameters.scale
            let inverse = 1 / scale
            let zero = Float(parameters.zero)
            // The kernel (C: a scalar reference and an AVX-512 version that return the same bits)
            // stops once this candidate is already worse than the best so far.
            let error = kernels.candidateError(
                values, inverse: inverse, scale: scale, zero: zero, qmin: Float(self.qmin), qmax: Float(self.qmax),
                bound: bestError)
            if error < bestError || (error == bestError && factor > best) {
                bestError = error
                best = factor
            }
        }
        return best
    }
}
