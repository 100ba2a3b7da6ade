import ArgumentParser
import Dispatch
import Foundation
import JSON
import QuantCore
import QuantTesting

/// `quant-bench gptq`: GPTQ of one layer (default 4096 x 4096, 512 samples, int4 g128) against
/// round-to-nearest and the fp32 GEMM X·Wᵀ of the same shapes, measured in the same run.
struct GPTQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gptq",
        abstract: "GPTQ of one linear layer, against round-to-nearest (goal: 4096 x 4096 with 512 samples under 10 s).")

    @Option(help: "Output features (rows of W).") var rows = 4096
    @Option(help: "Input features.") var cols = 4096
    @Option(help: "Calibration samples.") var samples = 512
    @Option(help: "Bits.") var bits = 4
    @Option(help: "Group size.") var group = 128
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "act-order") var actOrder = false

    func run() throws {
        var rng = SplitMix64(seed: 1)
        func gaussian() -> Float {
            let u1 = Double(rng.next() % 1_000_000 + 1) / 1_000_001
            let u2 = Double(rng.next() % 1_000_000) / 1_000_000
            return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        let w = Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in gaussian() * 0.02 })
        // Correlated inputs, like real activations: Z (samples x 64) · M (64 x cols) plus noise.
        let z = Matrix(rows: samples, cols: 64, values: (0..<(samples * 64)).map { _ in gaussian() })
        let m = Matrix(rows: 64, cols: cols, values: (0..<(64 * cols)).map { _ in gaussian() })
        var x = BLAS.multiply(z, m)
        for i in x.values.indices { x.values[i] += 0.1 * gaussian() }
        let scheme = try LinearScheme(bits: bits, symmetric: true, granularity: .group(size: group))
        var options = GPTQOptions()
        options.actOrder = actOrder
        func time(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        BLAS.setThreads(threads)
        let gemm = time { _ = BLAS.multiplyTransposed(x, w) }
        let nearest = try time { _ = try GPTQRun.nearest(weights: w, scheme: scheme) }
        let gptq = try time {
            _ = try GPTQRun.quantize(weights: w, inputs: x, scheme: scheme, options: options, threads: threads)
        }
        let shape = "\(rows)x\(cols), \(samples) samples, int\(bits) g\(group)\(actOrder ? " act-order" : ""), \(threads) threads"
        print("GPTQ \(shape)")
        func row(_ name: String, _ seconds: Double) -> String {
            name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%8.3f s", seconds)
        }
        print(row("fp32 GEMM X·Wᵀ (OpenBLAS)", gemm))
        print(row("round-to-nearest", nearest))
        print(
            row("GPTQ", gptq)
                + String(format: "  (%.1fx round-to-nearest; goal < 10 s: %@)", gptq / nearest, gptq < 10 ? "met" : "missed"))
        let json = JSONObject([
            ("rows", .integer(rows)), ("cols", .integer(cols)), ("samples", .integer(samples)), ("bits", .integer(bits)),
            ("group", .integer(group)), ("threads", .integer(threads)), ("gptq_seconds", .number(gptq, decimals: 3)),
            ("nearest_seconds", .number(nearest, decimals: 3)), ("fp32_gemm_seconds", .number(gemm, decimals: 4)),
        ])
        print("JSON " + JSONValue.object(json).serialized)
    }
}
