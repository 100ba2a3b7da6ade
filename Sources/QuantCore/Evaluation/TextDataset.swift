import Foundation
import JSON
import ModelArchitectures
import ModelFormats

/// A text dataset: plain UTF-8 text, or JSON Lines of `{"text": ...}` objects (or strings), as
/// uploaded to `POST /v1/datasets` for evaluation.
public struct TextDataset: Sendable {
    /// Plain text holds one text; JSON Lines one per line.
    public let texts: [String]
    public let isJSONLines: Bool

    /// Reads and checks a text dataset (an EvaluationError says what is wrong and where).
    public init(path: String, jsonLines: Bool? = nil) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvaluationError("cannot read \(path)") }
        guard let text = String(validating: data, as: UTF8.self) else { throw EvaluationError("the text is not valid UTF-8") }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).filter { !$0.allSatisfy(\.isWhitespace) }
        let treatAsJSON = jsonLines ?? (!lines.isEmpty && lines.allSatisfy { Self.jsonText(String($0)) != nil })
        if treatAsJSON {
            texts = try lines.enumerated().map { index, line in
                guard let text = Self.jsonText(String(line)) else {
                    throw EvaluationError("line \(index + 1) is not a JSON object with a \"text\" string (nor a JSON string)")
                }
                return text
            }
        } else {
            texts = [text]
        }
        isJSONLines = treatAsJSON
        guard texts.contains(where: { !$0.isEmpty }) else { throw EvaluationError("the dataset holds no text") }
    }

    /// A stored dataset read as text, when it is text: nil for safetensors, GGUF and llama.cpp
    /// importance matrices.
    public static func stored(at path: String) -> TextDataset? {
        if ImportanceMatrix.recognizes(path: path) || (try? ModelFile.open(path: path)) != nil { return nil }
        return try? TextDataset(path: path)
    }

    /// All texts as one (decoders read it as a stream of tokens).
    public var joined: String { texts.joined(separator: "\n\n") }

    /// One text per sequence (encoders): JSON Lines' entries, or plain text's non-empty lines.
    public var sequences: [String] {
        isJSONLines
            ? texts
            : texts.flatMap { $0.split(whereSeparator: \.isNewline).map(String.init) }.filter { !$0.allSatisfy(\.isWhitespace) }
    }

    static func jsonText(_ line: String) -> String? {
        guard let value = try? StrictJSON.parse(line) else { return nil }
        return value.stringValue ?? value.objectValue?["text"]?.stringValue
    }
}

/// The evaluation a job runs after quantizing: decoder or encoder by the checkpoint's architecture.
public enum ModelEvaluation {
    /// Evaluates `candidate` (an artifact) against `original` (a checkpoint folder) on `dataset`.
    public static func run(
        original: String, candidate: String, dataset: TextDataset, spec: EvaluationSpec,
        progress: ((Int, Int) -> Void)? = nil, isCancelled: (() -> Bool)? = nil
    ) throws -> JSONValue {
        guard Checkpoint.isCheckpoint(path: original), let config = try Checkpoint(directory: original).config else {
            throw EvaluationError(
                "evaluation compares against a Hugging Face checkpoint folder (config.json and tokenizer.json); this model is a single file"
            )
        }
        let tokenizer: Tokenizer
        do { tokenizer = try Tokenizer(path: (original as NSString).appendingPathComponent("tokenizer.json")) } catch let error
            as TokenizerError
        {
            throw EvaluationError(error.message)
        }
        if config["architectures"]?.arrayValue?.first?.stringValue == "BertModel" {
            let sequences = dataset.sequences.prefix(spec.chunks).map { text in
                tokenizer.withSpecialTokens(
                    Array(tokenizer.encode(text, addSpecialTokens: false).prefix(Swift.max(1, spec.context - 2))))
            }
            return try EncoderEvaluation.run(
                Array(sequences), base: EncoderForward(weights: Dequantizer.Tensors(path: original)),
                candidate: EncoderForward(weights: Dequantizer.Tensors(path: candidate)), progress: progress
            ).json
        }
        return try DecoderEvaluation.run(
            TextChunks(text: dataset.joined, tokenizer: tokenizer, context: spec.context, maxChunks: spec.chunks),
            base: DecoderForward.open(original),
            candidate: DecoderForward.open(candidate), progress: progress, isCancelled: isCancelled
        ).json
    }
}
