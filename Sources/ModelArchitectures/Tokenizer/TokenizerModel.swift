import JSON
import ModelFormats

/// tokenizer.json's `model`: turns one pre-tokenized word into ids.
enum TokenizerModel: Sendable {
    case bpe(BPE)
    case wordPiece(WordPiece)

    init(_ object: JSONObject) throws {
        switch object["type"]?.stringValue {
        case "BPE": self = .bpe(try BPE(object))
        case "WordPiece": self = .wordPiece(try WordPiece(object))
        case let other:
            throw TokenizerError("tokenizer.json: model \(other ?? "(none)") is not implemented (BPE, WordPiece are)")
        }
    }

    func tokenize(_ word: String) -> [Int] {
        switch self {
        case .bpe(let model): model.tokenize(word)
        case .wordPiece(let model): model.tokenize(word)
        }
    }

    func id(of token: String) -> Int? {
        switch self {
        case .bpe(let model): model.vocab[token]
        case .wordPiece(let model): model.vocab[token]
        }
    }

    static func vocabulary(_ object: JSONObject) throws -> [String: Int] {
        guard let vocab = object["vocab"]?.objectValue else { throw TokenizerError("tokenizer.json: the model has no vocab") }
        var result: [String: Int] = [:]
        result.reserveCapacity(vocab.count)
        for entry in vocab.entries {
            guard let id = entry.value.intValue else {
                throw TokenizerError("tokenizer.json: vocab entry '\(entry.key)' has no integer id")
            }
            result[entry.key] = id
        }
        return result
    }
}

/// Byte-pair encoding as `tokenizers` runs it: a word's characters (or, with byte fallback, the
/// `<0xXX>` tokens of characters the vocabulary lacks) merged pair by pair, the lowest-ranked pair
/// first and the leftmost among equals, until no listed pair remains.
struct BPE: Sendable {
    let vocab: [String: Int]
    /// "a b" -> (rank, id of "ab").
    let merges: [Pair: (rank: Int, id: Int)]
    let unknown: Int?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool

    struct Pair: Hashable, Sendable {
        let left: Int
        let right: Int
    }

    init(_ object: JSONObject) throws {
        vocab = try TokenizerModel.vocabulary(object)
        for unsupported in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = object[unsupported], value != .null, value.stringValue != "" {
                throw TokenizerError("tokenizer.json: BPE with \(unsupported) is not implemented")
            }
        }
        if let dropout = object["dropout"], dropout != .null {
            throw TokenizerError("tokenizer.json: BPE dropout is not implemented (it makes tokenization random)")
        }
        var merges: [Pair: (rank: Int, id: Int)] = [:]
        for (rank, merge) in (object["merges"]?.arrayValue ?? []).enumerated() {
            let parts: [String]
            if let text = merge.stringValue {
                parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            } else {
                parts = merge.arrayValue?.compactMap(\.stringValue) ?? []
            }
            guard parts.count == 2, let left = vocab[parts[0]], let right = vocab[parts[1]],
                let merged = vocab[parts[0] + parts[1]]
            else {
                throw TokenizerError("tokenizer.json: merge \(merge.serialized) names tokens the vocabulary lacks")
            }
            if merges[Pair(left: left, right: right)] == nil { merges[Pair(left: left, right: right)] = (rank, merged) }
        }
        self.merges = merges
        let vocab = vocab
        unknown = object["unk_token"]?.stringValue.flatMap { vocab[$0] }
        fuseUnknown = object["fuse_unk"]?.boolValue ?? false
        byteFallback = object["byte_fallback"]?.boolValue ?? false
        ignoreMerges = object["ignore_merges"]?.boolValue ?? false
    }

    func tokenize(_ word: String) -> [Int] {
        if ignoreMerges, let id = vocab[word] { return [id] }
        var symbols: [Int] = []
        var lastWasUnknown = false
        for character in word.unicodeScalars {
            if let id = vocab[String(character)] {
                symbols.append(id)
                lastWasUnknown = false
            } else if byteFallback, case let bytes = Array(String(character).utf8),
                let ids = Optional(bytes.compactMap { vocab[Self.byteToken($0)] }), ids.count == bytes.count
            {
                symbols += ids
                lastWasUnknown = false
            } else if let unknown {
                if !(fuseUnknown && lastWasUnknown) { symbols.append(unknown) }
                lastWasUnknown = true
            }
        }
        while symbols.count > 1 {
            var best: (index: Int, rank: Int, id: Int)?
            for index in 0..<(symbols.count - 1) {
                if let merge = merges[Pair(left: symbols[index], right: symbols[index + 1])],
                    best == nil || merge.rank < best!.rank
                {
                    best = (index, merge.rank, merge.id)
                }
            }
            guard let best else { break }
            symbols[best.index] = best.id
            symbols.remove(at: best.index + 1)
        }
        return symbols
    }

    static func byteToken(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }
}

/// WordPiece as BERT runs it: greedy longest match from the left, continuations prefixed "##", a
/// word with no full match (or too long) is the unknown token.
struct WordPiece: Sendable {
    let vocab: [String: Int]
    let unknown: Int
    let prefix: String
    let maxCharacters: Int

    init(_ object: JSONObject) throws {
        let vocab = try TokenizerModel.vocabulary(object)
        self.vocab = vocab
        guard let unknown = vocab[object["unk_token"]?.stringValue ?? "[UNK]"] else {
            throw TokenizerError("tokenizer.json: WordPiece's unk_token is not in its vocabulary")
        }
        self.unknown = unknown
        prefix = object["continuing_subword_prefix"]?.stringValue ?? "##"
        maxCharacters = object["max_input_chars_per_word"]?.intValue ?? 100
    }

    func tokenize(_ word: String) -> [Int] {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count <= maxCharacters else { return [unknown] }
        var ids: [Int] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: Int?
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start..<end]))
                if start > 0 { piece = prefix + piece }
                if let id = vocab[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unknown] }
            ids.append(id)
            start = end
        }
        return ids
    }
}
