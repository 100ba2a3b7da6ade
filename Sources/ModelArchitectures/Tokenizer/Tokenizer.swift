import Foundation
import JSON
import ModelFormats

/// A tokenizer read from a Hugging Face `tokenizer.json`: added tokens, normalizer, pre-tokenizer,
/// model (byte-level BPE, BPE with byte fallback, WordPiece) and post-processor, each as the PyPI
/// `tokenizers` package applies it, so the ids are the same. A component it does not implement is
/// an error naming it, never a silently different tokenization.
public struct Tokenizer: Sendable {
    let added: AddedTokens
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: TokenizerModel
    let postProcessor: PostProcessor?

    public init(json: JSONObject) throws {
        guard let model = json["model"]?.objectValue else { throw TokenizerError("tokenizer.json has no model") }
        self.model = try TokenizerModel(model)
        added = try AddedTokens(json["added_tokens"]?.arrayValue ?? [])
        normalizer = try json["normalizer"].flatMap { $0 == .null ? nil : try Normalizer($0, "normalizer") }
        preTokenizer = try json["pre_tokenizer"].flatMap { $0 == .null ? nil : try PreTokenizer($0, "pre_tokenizer") }
        postProcessor = try json["post_processor"].flatMap { $0 == .null ? nil : try PostProcessor($0, "post_processor") }
    }

    /// Reads `tokenizer.json` from disk.
    public init(path: String) throws {
        let mapping = try MappedFile(path: path)
        let document = try withExtendedLifetime(mapping) { try CheckpointRules.parseJSON(mapping.bytes, file: "tokenizer.json") }
        guard let object = document.objectValue else { throw TokenizerError("tokenizer.json must hold a JSON object") }
        try self.init(json: object)
    }

    /// The ids of `text`; with `addSpecialTokens`, what the post-processor adds (BOS, [CLS] ... [SEP]).
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        var first = true
        for segment in added.split(text) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let piece):
                guard !piece.isEmpty else { continue }
                let normalized = normalizer.map { $0.apply(piece) } ?? piece
                let words = preTokenizer.map { $0.split(normalized, isFirst: first) } ?? [normalized]
                for word in words where !word.isEmpty { ids += model.tokenize(word) }
            }
            first = false
        }
        guard addSpecialTokens, let postProcessor else { return ids }
        return postProcessor.apply(ids)
    }

    /// `ids` with what the post-processor adds around one sequence (BOS, [CLS] ... [SEP]).
    public func withSpecialTokens(_ ids: [Int]) -> [Int] { postProcessor?.apply(ids) ?? ids }

    /// The id of a token of the vocabulary (added tokens included).
    public func id(of token: String) -> Int? { added.id(of: token) ?? model.id(of: token) }
}

/// A tokenizer.json the tokenizer cannot read as `tokenizers` would: names the component.
public struct TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension TokenizerError {
    /// A component type this tokenizer does not run, with the list of those it does.
    static func unsupported(_ kind: String, _ type: String, implemented: String) -> TokenizerError {
        TokenizerError("tokenizer.json: \(kind) \(type) is not implemented (\(implemented) are)")
    }
}

/// The parts of a `Sequence` component, listed under `key`, each parsed with its own path.
func componentSequence<Part>(
    _ object: JSONObject, _ key: String, _ path: String, _ parse: (JSONValue, String) throws -> Part
) throws -> [Part] {
    try (object[key]?.arrayValue ?? []).enumerated().map { try parse($1, "\(path).\(key)[\($0)]") }
}

/// The `type` of a component object, or an error naming where it is missing.
func componentType(_ value: JSONValue, _ path: String) throws -> (type: String, object: JSONObject) {
    guard let object = value.objectValue, let type = object["type"]?.stringValue else {
        throw TokenizerError("tokenizer.json: \(path) has no \"type\"")
    }
    return (type, object)
}
