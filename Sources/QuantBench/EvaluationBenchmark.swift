import Foundation
import JSON
import ModelFormats
import QuantCore

/// `quant-bench evaluate`: `quantctl evaluate` of a Q4_K_M GGUF against its Llama-3.2-1B-shaped BF16
/// checkpoint on 8 chunks of 512 tokens (two forward passes per chunk), timed with its peak RSS, and
/// the GFLOPS of its matrix products against OpenBLAS sgemm on the same shapes in the same run.
public struct EvaluationBenchmark {
    public let directory: String
    public let quantctl: String
    public let layers: Int
    public let chunks: Int
    public let context: Int

    public init(directory: String, quantctl: String, layers: Int = 16, chunks: Int = 8, context: Int = 512) {
        self.directory = directory
        self.quantctl = quantctl
        self.layers = layers
        self.chunks = chunks
        self.context = context
    }

    public func run(progress: (String) -> Void) throws -> String {
        let root = (directory as NSString).appendingPathComponent("bench-evaluate-\(ProcessInfo.processInfo.processIdentifier)")
        let checkpoint = (root as NSString).appendingPathComponent("Llama-shaped")
        try FileManager.default.createDirectory(atPath: checkpoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let shapes = CheckpointBenchmark(directory: root, quantctl: quantctl, layers: layers).shapes()
        let parameters = shapes.reduce(0) { $0 + $1.1.reduce(1, *) }
        progress("writing a \(parameters / 1_000_000)M-parameter checkpoint")
        try CheckpointBenchmark(directory: root, quantctl: quantctl, layers: layers).writeCheckpoint(checkpoint, tensors: shapes)
        let gguf = (root as NSString).appendingPathComponent("q4_k_m.gguf")
        let runner = PipelineBenchmark(
            sizeMiB: 0, directory: root, quantctl: quantctl, python: nil, threads: ProcessInfo.processInfo.activeProcessorCount)
        progress("quantizing to Q4_K_M")
        _ = try runner.timed([quantctl, "quantize", checkpoint, "-o", gguf, "--preset", "q4_k_m"])
        let text = (root as NSString).appendingPathComponent("text.txt")
        // Random text of the synthetic vocabulary's characters: every chunk is full.
        var rng = SystemRandomNumberGenerator()
        let words = (0..<(chunks * context * 2)).map { _ in
            String(
                (0..<Int.random(in: 2...7, using: &rng)).map { _ in
                    Character(UnicodeScalar(UInt8.random(in: 97...122, using: &rng)))
                })
        }
        try words.joined(separator: " ").write(toFile: text, atomically: true, encoding: .utf8)
        progress("quantctl evaluate: \(chunks) chunks of \(context) tokens, original and quantized")
        let (seconds, rss) = try runner.timed([
            quantctl, "evaluate", checkpoint, "--quantized", gguf, "--text", text, "--context", String(context), "--chunks",
            String(chunks),
        ])
        // Matrix products per forward pass: 2 x tokens x weights of the blocks, plus 2 x scored
        // tokens x the head (the tied embedding): like llama-perplexity, only each chunk's second
        // half needs logits.
        let head = shapes.first { $0.0 == "model.embed_tokens.weight" }.map { $0.1.reduce(1, *) } ?? 0
        let scored = context - 1 - context / 2
        let flops = 2.0 * 2.0 * Double(chunks) * (Double(context) * Double(parameters - head) + Double(scored) * Double(head))
        progress("OpenBLAS sgemm on a layer's shapes")
        let sgemm = try sgemmGFLOPS()
        let gflops = flops / seconds / 1e9
        var table =
            "evaluate: \(parameters) parameters (Llama-3.2-1B shapes), BF16 checkpoint against its Q4_K_M GGUF, \(chunks) chunks of \(context) tokens\n"
        table += String(
            format: "seconds %.1f   peak RSS %.0f MiB   %.1f GFLOPS in matrix products   sgemm %.1f GFLOPS   ratio %.2f\n",
            seconds, rss, gflops, sgemm, gflops / sgemm)
        let json = JSONValue.object(
            JSONObject([
                ("parameters", .integer(parameters)), ("chunks", .integer(chunks)), ("context", .integer(context)),
                ("seconds", .number(seconds, decimals: 2)), ("peak_rss_mib", .number(rss, decimals: 1)),
                ("gflops", .number(gflops, decimals: 2)), ("sgemm_gflops", .number(sgemm, decimals: 2)),
                ("ratio_to_sgemm", .number(gflops / sgemm, decimals: 3)),
            ]))
        return table + "JSON " + json.serialized + "\n"
    }

    /// sgemm of (context x 2048) x (8192 x 2048)^T, the feed-forward's shape, median of 3.
    func sgemmGFLOPS() throws -> Double {
        let a = Matrix(rows: context, cols: 2048, values: (0..<(context * 2048)).map { Float($0 % 7) * 0.01 })
        let b = Matrix(rows: 8192, cols: 2048, values: (0..<(8192 * 2048)).map { Float($0 % 5) * 0.01 })
        let seconds = try medianSeconds(repeats: 3) { _ = BLAS.multiplyTransposed(a, b) }
        return 2.0 * Double(context) * 2048 * 8192 / seconds / 1e9
    }
}
