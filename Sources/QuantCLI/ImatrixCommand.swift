import ArgumentParser
import Foundation
import ModelArchitectures
import ModelFormats
import QuantCore

/// `quantctl imatrix MODEL --text FILE -o imatrix.gguf`: llama-imatrix's importance matrix, computed
/// by our reference forward pass on your text (readable by llama-quantize and `quantctl quantize --imatrix`).
struct ImatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imatrix",
        abstract: "Compute a llama.cpp importance matrix (imatrix.gguf) from text, as llama-imatrix does.",
        discussion: """
            MODEL is a Hugging Face checkpoint folder of a decoder (Llama, Mistral, Qwen2, Qwen3) or a GGUF of one
            (give --tokenizer then). The text is tokenized with its special tokens and cut into chunks of
            --context tokens; every block weight's input columns are squared and summed over all tokens.
            `quantctl quantize --imatrix TEXT_FILE` computes the same on the fly.
            """
    )

    @Argument(help: "The model: a checkpoint folder or a GGUF.")
    var model: String

    @Option(help: "A UTF-8 text file (or JSON Lines of {\"text\": ...}).")
    var text: String

    @Option(name: .shortAndLong, help: "Where to write imatrix.gguf.")
    var output: String

    @Option(help: "tokenizer.json (default: the checkpoint's).")
    var tokenizer: String?

    @Option(help: "Tokens per chunk (llama-imatrix's -c).")
    var context = 512

    @Option(help: "At most this many chunks.")
    var chunks: Int?

    func run() throws {
        try reportingFailures {
            do {
                let tokenizer = try Tokenizer(
                    path: self.tokenizer ?? (model as NSString).appendingPathComponent("tokenizer.json"))
                let dataset = try TextDataset(path: text)
                let bar = ProgressBar(enabled: isatty(2) == 1)
                let chunked = try TextChunks(text: dataset.joined, tokenizer: tokenizer, context: context, maxChunks: chunks)
                let collector = try ImportanceCollector.collect(DecoderForward.open(model), text: chunked) { done, total in
                    bar.draw(fraction: Double(done) / Double(total), detail: "chunk \(done) of \(total)")
                }
                bar.finish()
                try collector.write(to: output, datasets: [(text as NSString).lastPathComponent])
                print("wrote \(output): \(collector.means.count) weights from \(collector.chunks) chunks of \(context) tokens")
            } catch let error as EvaluationError {
                throw CLIFailure(kind: .user, message: error.message)
            } catch let error as TokenizerError {
                throw CLIFailure(kind: .user, message: error.message)
            } catch let error as FormatError {
                throw CLIFailure(kind: .user, message: "\(error)")
            }
        }
    }
}
