import Foundation
import Int8Kernels

/// How far a reconstruction is from the original: the numbers a report shows. The sums are
/// gathered by the kernels (`Kernels.linearError`, `Kernels.error`).
public typealias ErrorMetrics = ErrorSums

extension ErrorSums {
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

    /// Adds the error of `r` against `x`.
    public mutating func add(original x: UnsafeBufferPointer<Float>, reconstructed r: UnsafeBufferPointer<Float>) {
        let n = Swift.min(x.count, r.count)
        try? Kernels.best.error(
            UnsafeBufferPointer(rebasing: x[0..<n]), reconstructed: UnsafeBufferPointer(rebasing: r[0..<n]), into: &self)
    }

    public mutating func merge(_ other: ErrorSums) {
        count += other.count
        sumSquares += other.sumSquares
        sumSquaredError += other.sumSquaredError
        sumProducts += other.sumProducts
        sumReconstructedSquares += other.sumReconstructedSquares
        maxAbsError = Swift.max(maxAbsError, other.maxAbsError)
    }
}
