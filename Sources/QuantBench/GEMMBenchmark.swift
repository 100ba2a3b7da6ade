import Foundation
import Int8Kernels
import QuantCore
import QuantTesting

extension KernelBenchmark {
    /// The int8 GEMM C = A·Bᵀ (A: m x k, B: n x k) against its instruction mix's peak, OpenBLAS's
    /// sgemm on the same shape, and the ratio of the two, all in this run.
    func gemm(
        _ name: String, m: Int, n: Int, k: Int, threads: Int, kernels: Kernels, gemmPeakGOPS: Double, rng: inout SplitMix64,
        progress: (String) -> Void
    ) throws -> [BenchmarkResult] {
        progress("gemm_s8_\(name) and sgemm_\(name) x\(threads)")
        let a = (0..<(m * k)).map { _ in Int8(truncatingIfNeeded: rng.next()) }
        let b = (0..<(n * k)).map { _ in Int8(truncatingIfNeeded: rng.next()) }
        let prepared = try b.withUnsafeBufferPointer { try PreparedMatrix($0, rows: n, cols: k) }
        let operations = 2 * Double(m) * Double(n) * Double(k)
        let af = Matrix(rows: m, cols: k, values: a.map { Float($0) })
        let bf = Matrix(rows: n, cols: k, values: b.map { Float($0) })
        // OpenBLAS's threads spin for a while after a sgemm returns, and took the second core from
        // an int8 product measured right after one (two threads ran at one thread's speed). So the
        // int8 samples come first, after a pause that lets any earlier sgemm's threads go to sleep,
        // then the sgemm samples. A product takes milliseconds, where one late thread wake-up moves a
        // sample by tens of percent: at least 21 samples each.
        let samples = Swift.max(repeats, 21)
        Thread.sleep(forTimeInterval: 0.5)
        let int8Seconds = try medianSeconds(repeats: samples) {
            _ = try a.withUnsafeBufferPointer { try kernels.gemm($0, m: m, b: prepared, threads: threads) }
        }
        BLAS.setThreads(threads)
        let fp32Seconds = medianSeconds(repeats: samples) { _ = BLAS.multiplyTransposed(af, bf) }
        let int8GOPS = operations / int8Seconds / 1e9
        let fp32GFLOPS = operations / fp32Seconds / 1e9
        return [
            BenchmarkResult(
                name: "gemm_s8_\(name)", threads: threads, value: int8GOPS, unit: "GOPS", ratio: int8GOPS / gemmPeakGOPS,
                baseline: "gemm peak"),
            BenchmarkResult(
                name: "sgemm_\(name)", threads: threads, value: fp32GFLOPS, unit: "GOPS", ratio: fp32GFLOPS / gemmPeakGOPS,
                baseline: "gemm peak"),
            BenchmarkResult(
                name: "gemm_s8_vs_sgemm_\(name)", threads: threads, value: int8GOPS / fp32GFLOPS, unit: "x",
                ratio: int8GOPS / fp32GFLOPS, baseline: "OpenBLAS sgemm"),
        ]
    }

}
