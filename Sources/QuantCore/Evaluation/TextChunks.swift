import ModelArchitectures

/// Text cut as llama.cpp's `llama-perplexity` and `llama-imatrix` cut it: tokenized whole with its
/// special tokens, then split into chunks of `context` tokens, the first token of each replaced by
/// BOS when the tokenizer adds one.
public struct TextChunks: Sendable {
    public let windows: [[Int]]
    public let context: Int

    /// At most `maxChunks` chunks (all that the text holds when nil); an EvaluationError when the
    /// text does not fill one.
    public init(tokens: [Int], context: Int, maxChunks: Int? = nil, bos: Int?) throws {
        guard context >= 4 else { throw EvaluationError("context must be at least 4 tokens") }
        let available = tokens.count / context
        let count = Swift.min(available, maxChunks ?? available)
        guard count > 0 else {
            throw EvaluationError(
                "the text has \(tokens.count) tokens; one chunk needs \(context): give more text or a smaller context")
        }
        windows = (0..<count).map { chunk in
            var window = Array(tokens[(chunk * context)..<((chunk + 1) * context)])
            if let bos { window[0] = bos }
            return window
        }
        self.context = context
    }

    public init(text: String, tokenizer: Tokenizer, context: Int, maxChunks: Int? = nil) throws {
        try self.init(
            tokens: tokenizer.encode(text, addSpecialTokens: true), context: context, maxChunks: maxChunks,
            bos: tokenizer.prependedBOS)
    }

    public var count: Int { windows.count }
}

extension Tokenizer {
    /// The BOS id this tokenizer puts first, if it adds one.
    public var prependedBOS: Int? {
        let plain = encode("a", addSpecialTokens: false)
        let special = encode("a", addSpecialTokens: true)
        guard special.count > plain.count, Array(special.dropFirst(special.count - plain.count)) == plain else { return nil }
        return special.first
    }
}
