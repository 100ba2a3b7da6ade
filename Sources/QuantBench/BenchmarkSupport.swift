import CInt8Kernels
import Dispatch
import Foundation
import JSON

/// Wall-clock timing: runs `body` `repeats` times (after one warm-up) and returns the median seconds.
/// The machine is noisy, so every figure is a median of several runs in one process.
func medianSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var samples: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    samples.sort()
    return samples[samples.count / 2]
}

/// A page-aligned buffer with 2 MiB pages requested, touched once so page faults stay out of timings.
final class LargeBuffer<T>: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<T>

    init(count: Int, fill: T) {
        self.count = count
        let raw = qk_alloc_large(count * MemoryLayout<T>.stride)!
        pointer = raw.bindMemory(to: T.self, capacity: count)
        pointer.initialize(repeating: fill, count: count)
    }

    var buffer: UnsafeMutableBufferPointer<T> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    var readOnly: UnsafeBufferPointer<T> { UnsafeBufferPointer(start: pointer, count: count) }

    deinit { qk_free_large(pointer, count * MemoryLayout<T>.stride) }
}

/// One measured row of a benchmark report.
public struct BenchmarkResult: Sendable {
    public let name: String
    public let threads: Int
    /// GB/s (1e9 bytes) or GOPS, per `unit`.
    public let value: Double
    public let unit: String
    /// Against the baseline named in `baseline`.
    public let ratio: Double
    public let baseline: String
}

/// The report of `quant-bench kernels`: baselines and results, as a table or as JSON.
public struct KernelReport: Sendable {
    public var memcpyGBps: Double
    public var int8PeakGOPS: Double
    /// The peak of the GEMM's own instruction mix (its baseline), and the OpenBLAS core that ran sgemm.
    public var gemmPeakGOPS: Double
    public var blas: String
    public var isa: String
    public var results: [BenchmarkResult]

    public func table() -> String {
        var out = "kernels: \(isa); baselines: memcpy \(format(memcpyGBps)) GB/s, int8 peak \(format(int8PeakGOPS)) GOPS, "
        out += "gemm peak \(format(gemmPeakGOPS)) GOPS; OpenBLAS core \(blas)\n"
        out += "name" + String(repeating: " ", count: 31) + "threads        value  unit  ratio  vs\n"
        for r in results {
            out += r.name.padding(toLength: 34, withPad: " ", startingAt: 0) + " "
            out +=
                String(r.threads).leftPad(7) + " " + format(r.value).leftPad(12) + "  "
                + r.unit.padding(toLength: 4, withPad: " ", startingAt: 0)
            out += " " + String(format: "%5.2f", r.ratio) + "  " + r.baseline + "\n"
        }
        return out
    }

    public func json() -> String {
        func number(_ v: Double) -> JSONValue { .number(v, decimals: 3) }
        let rows = results.map { r in
            JSONValue.object(
                JSONObject([
                    ("name", .string(r.name)), ("threads", .integer(r.threads)),
                    (r.unit == "GB/s" ? "gbps" : (r.unit == "GOPS" ? "gops" : "times"), number(r.value)),
                    ("ratio", number(r.ratio)),
                ]))
        }
        let baseline = JSONObject([
            ("memcpy_gbps", number(memcpyGBps)), ("int8_peak_gops", number(int8PeakGOPS)),
            ("gemm_peak_gops", number(gemmPeakGOPS)),
        ])
        return JSONValue.object(
            JSONObject([
                ("isa", .string(isa)), ("blas", .string(blas)), ("baseline", .object(baseline)), ("results", .array(rows)),
            ])
        ).serialized
    }

    func format(_ v: Double) -> String { String(format: "%.2f", v) }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
