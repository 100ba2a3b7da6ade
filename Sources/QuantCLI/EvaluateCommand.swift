import ArgumentParser
import Foundation
import JSON
import ModelArchitectures
import ModelFormats
import QuantCore

/// `quantctl evaluate ORIGINAL --quantized MODEL --text FILE`: what a quantization did to a decoder,
/// as llama.cpp's `llama-perplexity --kl-divergence` measures it, on the user's own text.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Perplexity, KL divergence and top-1 agreement of a quantized decoder against its original, on your text.",
        discussion: """
            ORIGINAL is a Hugging Face checkpoint folder (its tokenizer.json tokenizes the text). --quantized
            is anything quantctl writes or reads: a GGUF (ours or llama.cpp's) or a safetensors folder or file.
            The text is cut into chunks of --context tokens and each chunk's second half is scored, as
            llama-perplexity does.
            """
    )

    @Argument(help: "The original checkpoint folder (config.json, tokenizer.json, weights).")
    var original: String

    @Option(help: "The quantized model to compare (omit for the original's perplexity alone).")
    var quantized: String?

    @Option(help: "A UTF-8 text file to evaluate on.")
    var text: String

    @Option(help: "Tokens per chunk.")
    var context = 512

    @Option(help: "At most this many chunks (default: as many as the text holds).")
    var chunks: Int?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        try reportingFailures {
            guard let data = FileManager.default.contents(atPath: text) else {
                throw CLIFailure(kind: .user, message: "cannot read \(text)")
            }
            let result: DecoderEvaluation
            do {
                let tokenizer = try Tokenizer(path: (original as NSString).appendingPathComponent("tokenizer.json"))
                if try Self.isEncoder(original) {
                    return try evaluateEncoder(tokenizer, text: String(decoding: data, as: UTF8.self))
                }
                let chunked = try TextChunks(
                    text: String(decoding: data, as: UTF8.self), tokenizer: tokenizer, context: context, maxChunks: chunks)
                let base = try DecoderForward.open(original)
                let candidate = try quantized.map { try DecoderForward.open($0) }
                let bar = ProgressBar(enabled: isatty(2) == 1 && !json)
                result = try DecoderEvaluation.run(chunked, base: base, candidate: candidate) { done, total in
                    bar.draw(fraction: Double(done) / Double(total), detail: "step \(done) of \(total)")
                }
                bar.finish()
            } catch let error as EvaluationError {
                throw CLIFailure(kind: .user, message: error.message)
            } catch let error as TokenizerError {
                throw CLIFailure(kind: .user, message: "\(original): \(error.message)")
            } catch let error as FormatError {
                throw CLIFailure(kind: .user, message: "\(error)")
            }
            if json { return print(result.json.serialized) }
            var lines = [
                "\(result.chunks) chunks of \(result.context) tokens, \(result.tokensScored) tokens scored",
                String(format: "perplexity (original)   %.4f", result.perplexity),
            ]
            if let p = result.candidatePerplexity, let kl = result.meanKL, let p99 = result.p99KL, let top = result.top1Agreement
            {
                lines += [
                    String(format: "perplexity (quantized)  %.4f  (%+.2f%%)", p, (p / result.perplexity - 1) * 100),
                    String(format: "KL divergence           mean %.6f, p99 %.6f", kl, p99),
                    String(format: "top-1 agreement         %.2f%%", top * 100),
                ]
            }
            print(lines.joined(separator: "\n"))
        }
    }

    static func isEncoder(_ path: String) throws -> Bool {
        guard Checkpoint.isCheckpoint(path: path) else { return false }
        return HFConfig(try Checkpoint(directory: path).config ?? JSONObject()).architecture == "BertModel"
    }

    /// Encoders: each non-empty line of the text (at most --chunks of them, each cut to --context
    /// tokens with its special tokens) embedded by both models; mean and min cosine.
    func evaluateEncoder(_ tokenizer: Tokenizer, text: String) throws {
        guard let quantized else {
            throw CLIFailure(kind: .user, message: "an encoder is evaluated against its quantized version: give --quantized")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }
        let sequences = lines.prefix(chunks ?? lines.count).map { line in
            tokenizer.withSpecialTokens(Array(tokenizer.encode(line, addSpecialTokens: false).prefix(Swift.max(1, context - 2))))
        }
        let base = try EncoderForward(weights: try Dequantizer.Tensors(path: original))
        let candidate = try EncoderForward(weights: try Dequantizer.Tensors(path: quantized))
        let result = try EncoderEvaluation.run(Array(sequences), base: base, candidate: candidate)
        if json { return print(result.json.serialized) }
        print(
            String(format: "%d texts\nembedding cosine  mean %.6f, min %.6f", result.texts, result.meanCosine, result.minCosine))
    }

}
