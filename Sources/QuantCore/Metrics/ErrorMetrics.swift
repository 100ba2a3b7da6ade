import Foundation

/// How far a reconstruction is from the original: the numbers a report shows.
public struct ErrorMetrics: Equatable, Sendable {
    public var count = 0
    public var sumSquares: Double = 0  // Σ x²
    public var sumSquaredError: Double = 0  // Σ (x - r)²
    public var sumProducts: Double = 0  // Σ x·r
    public var sumReconstructedSquares: Double = 0  // Σ r²
    public var maxAbsError: Float = 0

    public init() {}

    public var mse: Double { count == 0 ? 0 : sumSquaredError / Double(count) }

    /// Signal-to-quantization-noise ratio in dB; +Inf for an exact reconstruction.
    public var sqnrDB: Double {
        if sumSquaredError == 0 { return .infinity }
        if sumSquares == 0 { return -.infinity }
        return 10 * log10(sumSquares / sumSquaredError)
    }

    /// Cosine similarity; 1 when both are all zero.
    public var cosine: Double {
        let denominator = (sumSquares * sumReconstructedSquares).squareRoot()
        if denominator == 0 { return sumSquares == sumReconstructedSquares ? 1 : 0 }
        return sumProducts / denominator
    }

    /// Accumulates a chunk. Float partial sums over short runs, then Double, keep it fast and exact
    /// enough (relative error ~1e-7 per run of 256).
    public mutating func add(original x: UnsafeBufferPointer<Float>, reconstructed r: UnsafeBufferPointer<Float>) {
        let n = Swift.min(x.count, r.count)
        var start = 0
        while start < n {
            let end = Swift.min(n, start + 256)
            var xx: Float = 0, ee: Float = 0, xr: Float = 0, rr: Float = 0, worst: Float = maxAbsError
            for i in start..<end {
                let a = x[i], b = r[i], e = a - b
                xx += a * a
                ee += e * e
                xr += a * b
                rr += b * b
                worst = Swift.max(worst, abs(e))
            }
            sumSquares += Double(xx)
            sumSquaredError += Double(ee)
            sumProducts += Double(xr)
            sumReconstructedSquares += Double(rr)
            maxAbsError = worst
            start = end
        }
        count += n
    }

    public mutating func merge(_ other: ErrorMetrics) {
        count += other.count
        sumSquares += other.sumSquares
        sumSquaredError += other.sumSquaredError
        sumProducts += other.sumProducts
        sumReconstructedSquares += other.sumReconstructedSquares
        maxAbsError = Swift.max(maxAbsError, other.maxAbsError)
    }
}
