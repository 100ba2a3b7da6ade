import Foundation
import ModelArchitectures
import ModelFormats

/// An importance matrix computed from text by the reference forward pass, as llama.cpp's
/// `llama-imatrix` computes it: the text tokenized with its special tokens and cut into chunks of
/// `context` tokens (each starting with BOS when the tokenizer adds one); for every weight of the
/// decoder blocks, the sum over all tokens of each input column's square, and the count of tokens.
public final class ImportanceCollector {
    private(set) var sums: [String: [Double]] = [:]
    private(set) var counts: [String: Int] = [:]
    private(set) var names: [String] = []
    public private(set) var chunks = 0
    public let context: Int

    init(context: Int) { self.context = context }

    /// Runs `forward` over the text's chunks and collects every block weight's inputs.
    public static func collect(_ forward: DecoderForward, text: TextChunks, progress: ((Int, Int) -> Void)? = nil) throws
        -> ImportanceCollector
    {
        let collector = ImportanceCollector(context: text.context)
        var observed = forward
        observed.inputObserver = { name, input in collector.add(name, input) }
        for window in text.windows {
            _ = try observed.hiddenStates([window])
            collector.chunks += 1
            progress?(collector.chunks, text.count)
        }
        return collector
    }

    func add(_ weight: String, _ input: Matrix) {
        let name = LlamaCppNames.ggufName(ofHuggingFace: weight) ?? weight
        guard name.hasPrefix("blk."), input.rows >= 16 else { return }  // llama-imatrix skips batches under 16 tokens
        if sums[name] == nil {
            sums[name] = [Double](repeating: 0, count: input.cols)
            counts[name] = 0
            names.append(name)
        }
        input.values.withUnsafeBufferPointer { x in
            sums[name]!.withUnsafeMutableBufferPointer { sum in
                for row in 0..<input.rows {
                    let base = row * input.cols
                    for col in 0..<input.cols { sum[col] += Double(x[base + col] * x[base + col]) }
                }
            }
        }
        counts[name]! += input.rows
    }

    /// Each weight's mean squared input (what quantizers weight their search by).
    public var means: [String: [Float]] {
        sums.mapValues { _ in [] }.reduce(into: [:]) { result, entry in
            let count = Double(Swift.max(counts[entry.key] ?? 1, 1))
            result[entry.key] = sums[entry.key]!.map { Float($0 / count) }
        }
    }

    /// Writes llama.cpp's imatrix.gguf: `<weight>.in_sum2` and `<weight>.counts` per weight,
    /// general.type "imatrix", the datasets, chunk count and chunk size.
    public func write(to path: String, datasets: [String]) throws {
        let metadata = [
            GGUFKeyValue("general.type", .string("imatrix")), GGUFKeyValue("imatrix.datasets", .array(.string(datasets))),
            GGUFKeyValue("imatrix.chunk_count", .uint32(UInt32(chunks))),
            GGUFKeyValue("imatrix.chunk_size", .uint32(UInt32(context))),
        ]
        let tensors = names.flatMap { name in
            [
                GGUFTensorSpec(name: name + ".in_sum2", shape: [1, sums[name]!.count], type: .f32),
                GGUFTensorSpec(name: name + ".counts", shape: [1, 1], type: .f32),
            ]
        }
        let writer = try GGUFWriter(path: path, metadata: metadata, tensors: tensors)
        for name in names {
            try sums[name]!.map { Float($0) }.withUnsafeBytes { try writer.write($0) }
            try [Float(counts[name]!)].withUnsafeBytes { try writer.write($0) }
        }
        try writer.finish(sync: true)
    }
}
