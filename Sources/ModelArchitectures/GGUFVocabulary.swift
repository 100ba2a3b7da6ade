import Foundation
import JSON
import ModelFormats

/// The `tokenizer.*` GGUF keys from a checkpoint's `tokenizer.json`, `tokenizer_config.json` and
/// `config.json`, as convert_hf_to_gguf.py (get_vocab_base) and gguf-py's SpecialVocab write them.
enum GGUFVocabulary {
    /// llama.cpp's token types (llama.h's llama_token_type).
    enum TokenType: Int32 { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5 }

    /// Split regexes of byte-level BPE tokenizers -> llama.cpp's pre-tokenizer names. llama.cpp
    /// names each pre-tokenizer by the regex it reimplements (llama-vocab.cpp quotes the originals).
    static let preTokenizers: [(regex: String, name: String)] = [
        (
            #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
            "llama-bpe"
        ),
        (
            #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
            "qwen2"
        ),
    ]

    /// `tokenizer.ggml.model` "gpt2": byte-level BPE (Llama 3, Qwen2/3, GPT-2 and their kin).
    static func bytePairMetadata(sideFile: (String) throws -> JSONValue?, config: HFConfig) throws -> [GGUFKeyValue] {
        let (tokenizer, model, vocab) = try tokenizerModel(
            sideFile: sideFile, type: "BPE", expected: "is not converted for this architecture; byte-level BPE is")
        if model["byte_fallback"]?.boolValue == true {
            throw ConversionError(
                .unsupportedTokenizer,
                "tokenizer.json: BPE with byte fallback (SentencePiece-style, Llama 2) is not converted yet; byte-level BPE is")
        }
        let pre = try preTokenizerName(tokenizer["pre_tokenizer"])
        let (tokens, types) = try tokenList(tokenizer, vocab: vocab, config: config)
        var keys: [GGUFKeyValue] = []
        keys.add("tokenizer.ggml.model", .string("gpt2"))
        keys.add("tokenizer.ggml.pre", .string(pre))
        keys.add("tokenizer.ggml.tokens", .array(.string(tokens)))
        keys.add("tokenizer.ggml.token_type", .array(.int32(types)))
        let merges = try mergeList(model["merges"])
        if !merges.isEmpty { keys.add("tokenizer.ggml.merges", .array(.string(merges))) }
        keys += try specialTokens(tokenizer, sideFile: sideFile, config: config, vocabularySize: tokens.count)
        return keys
    }

    /// `tokenizer.ggml.model` "bert": WordPiece, with llama.cpp's phantom-space spelling (a word's
    /// first piece gets U+2581, a continuation loses its "##"; control tokens are kept as they are).
    static func wordPieceMetadata(sideFile: (String) throws -> JSONValue?, config: HFConfig) throws -> [GGUFKeyValue] {
        let (tokenizer, _, vocab) = try tokenizerModel(
            sideFile: sideFile, type: "WordPiece", expected: "is not converted for BertModel; WordPiece is")
        let (tokens, types) = try tokenList(tokenizer, vocab: vocab, config: config)
        let spelled = zip(tokens, types).map { token, type in
            type == TokenType.control.rawValue ? token : token.hasPrefix("##") ? String(token.dropFirst(2)) : "\u{2581}" + token
        }
        var keys: [GGUFKeyValue] = []
        keys.add("tokenizer.ggml.token_type_count", uint32: config.int("type_vocab_size") ?? 1)
        keys.add("tokenizer.ggml.model", .string("bert"))
        // llama.cpp reads no pre-tokenizer for WordPiece (only BPE has them).
        keys.add("tokenizer.ggml.pre", .string("default"))
        keys.add("tokenizer.ggml.tokens", .array(.string(spelled)))
        keys.add("tokenizer.ggml.token_type", .array(.int32(types)))
        keys += try specialTokens(tokenizer, sideFile: sideFile, config: config, vocabularySize: tokens.count)
        return keys
    }

    /// tokenizer.json, its `model` object (which must be of `type`) and that model's vocab. A model
    /// of another type is refused with `expected`, which says what this architecture converts.
    static func tokenizerModel(sideFile: (String) throws -> JSONValue?, type: String, expected: String) throws -> (
        tokenizer: JSONObject, model: JSONObject, vocab: JSONObject
    ) {
        guard let tokenizer = try sideFile("tokenizer.json")?.objectValue else {
            throw ConversionError(
                .unsupportedTokenizer, "llama.cpp needs the tokenizer in the GGUF: add tokenizer.json to the checkpoint")
        }
        guard let model = tokenizer["model"]?.objectValue, model["type"]?.stringValue == type,
            let vocab = model["vocab"]?.objectValue
        else {
            let found = tokenizer["model"]?.objectValue?["type"]?.serialized ?? "(none)"
            throw ConversionError(.unsupportedTokenizer, "tokenizer.json: model \(found) \(expected)")
        }
        return (tokenizer, model, vocab)
    }

    /// The special-token keys (ids, add-BOS/EOS flags, chat template) from tokenizer.json,
    /// tokenizer_config.json and config.json.
    static func specialTokens(
        _ tokenizer: JSONObject, sideFile: (String) throws -> JSONValue?, config: HFConfig, vocabularySize: Int
    ) throws -> [GGUFKeyValue] {
        let tokenizerConfig = try sideFile("tokenizer_config.json")?.objectValue
        return SpecialTokens(
            tokenizer: tokenizer, tokenizerConfig: tokenizerConfig, config: config, added: addedTokens(tokenizer),
            vocabularySize: vocabularySize
        ).metadata
    }

    static func addedTokens(_ tokenizer: JSONObject) -> [AddedToken] {
        tokenizer["added_tokens"]?.arrayValue?.compactMap(AddedToken.init) ?? []
    }

    /// convert_hf_to_gguf.py's get_vocab_base: every id up to config.json's vocab_size with its
    /// text and type; ids no token has are "[PADn]" and unused.
    static func tokenList(_ tokenizer: JSONObject, vocab: JSONObject, config: HFConfig) throws -> (
        tokens: [String], types: [Int32]
    ) {
        let added = addedTokens(tokenizer)
        var byID: [Int: String] = [:]
        for entry in vocab.entries {
            guard let id = entry.value.intValue, id >= 0 else {
                throw ConversionError(
                    .unsupportedTokenizer, "tokenizer.json: vocab entry '\(entry.key)' has id \(entry.value.serialized)")
            }
            byID[id] = entry.key
        }
        for token in added { byID[token.id] = token.content }
        let largest = byID.keys.max() ?? -1
        let size = config.int("vocab_size") ?? largest + 1
        guard largest < size else {
            throw ConversionError(
                .unsupportedTokenizer, "tokenizer.json holds id \(largest), but config.json's vocab_size is \(size)")
        }
        let addedByID = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var tokens: [String] = []
        var types: [Int32] = []
        tokens.reserveCapacity(size)
        types.reserveCapacity(size)
        for id in 0..<size {
            guard var token = byID[id] else {
                tokens.append("[PAD\(id)]")
                types.append(TokenType.unused.rawValue)
                continue
            }
            if let addedToken = addedByID[id] {
                if addedToken.special || looksSpecial(token) {
                    types.append(TokenType.control.rawValue)
                } else {
                    token = token.replacingOccurrences(of: "\u{2581}", with: " ")
                    types.append(TokenType.userDefined.rawValue)
                }
            } else {
                types.append(TokenType.normal.rawValue)
            }
            tokens.append(token)
        }
        return (tokens, types)
    }

    /// The pre-tokenizer llama.cpp reimplements for this tokenizer.json, by its split regex.
    static func preTokenizerName(_ value: JSONValue?) throws -> String {
        guard let object = value?.objectValue else {
            throw ConversionError(.unsupportedTokenizer, "tokenizer.json has no pre_tokenizer; byte-level BPE needs one")
        }
        let parts =
            object["type"]?.stringValue == "Sequence"
            ? (object["pretokenizers"]?.arrayValue ?? []).compactMap(\.objectValue) : [object]
        let splits = parts.filter { $0["type"]?.stringValue == "Split" }.compactMap {
            $0["pattern"]?.objectValue?["Regex"]?.stringValue
        }
        let byteLevel = parts.first { $0["type"]?.stringValue == "ByteLevel" }
        guard byteLevel != nil else {
            throw ConversionError(
                .unsupportedTokenizer, "tokenizer.json: the pre_tokenizer has no ByteLevel step, so this is not byte-level BPE")
        }
        if splits.isEmpty, byteLevel?["use_regex"]?.boolValue ?? true { return "gpt-2" }
        if splits.count == 1, let known = preTokenizers.first(where: { $0.regex == splits[0] }) { return known.name }
        throw ConversionError(
            .unsupportedTokenizer,
            "tokenizer.json: pre-tokenizer split \(splits.map { "'\($0)'" }.joined(separator: ", ")) has no llama.cpp twin here; supported: Llama 3 (llama-bpe), Qwen2 (qwen2), GPT-2 (gpt-2)"
        )
    }

    /// `model.merges` as "a b" strings; pairs (the newer form) are joined, a space inside a part
    /// written as U+0120 as gguf-py does.
    static func mergeList(_ value: JSONValue?) throws -> [String] {
        guard let merges = value?.arrayValue else { return [] }
        return try merges.map { merge in
            if let text = merge.stringValue { return text }
            guard let pair = merge.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                throw ConversionError(
                    .unsupportedTokenizer, "tokenizer.json: merge \(merge.serialized) is neither \"a b\" nor [\"a\", \"b\"]")
            }
            let escape = { (part: String) in part.replacingOccurrences(of: " ", with: "\u{0120}") }
            return escape(a) + " " + escape(b)
        }
    }

    /// convert_hf_to_gguf.py's does_token_look_special.
    static func looksSpecial(_ token: String) -> Bool {
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(token)
            || (token.hasPrefix("<|") && token.hasSuffix("|>"))
            || (token.hasPrefix("<\u{FF5C}") && token.hasSuffix("\u{FF5C}>"))
            || (token.hasPrefix("<unused") && token.hasSuffix(">"))
    }
}

/// One entry of tokenizer.json's `added_tokens`.
struct AddedToken {
    let id: Int
    let content: String
    let special: Bool

    init?(_ value: JSONValue) {
        guard let object = value.objectValue, let id = object["id"]?.intValue, let content = object["content"]?.stringValue else {
            return nil
        }
        self.id = id
        self.content = content
        special = object["special"]?.boolValue ?? false
    }
}

extension GGUFVocabulary {
    /// `tokenizer.ggml.model` "llama": a SentencePiece BPE `tokenizer.model` (Llama 2, Mistral v0.1)
    /// with its scores, as convert_hf_to_gguf.py's _set_vocab_sentencepiece writes it, plus the
    /// added tokens of added_tokens.json and tokenizer_config.json's added_tokens_decoder.
    static func sentencePieceMetadata(_ model: [UInt8], sideFile: (String) throws -> JSONValue?, config: HFConfig) throws
        -> [GGUFKeyValue]
    {
        let spm = try SentencePieceModel(model)
        guard spm.modelType == 2 else {
            throw ConversionError(
                .unsupportedTokenizer,
                "tokenizer.model is a SentencePiece \(spm.modelType == 1 ? "Unigram" : "word or char") model; llama.cpp's llama vocabulary is SentencePiece BPE"
            )
        }
        let size = config.int("vocab_size") ?? spm.pieces.count
        var tokens = (0..<size).map { "[PAD\($0)]" }
        var scores = [Float](repeating: -10000, count: size)
        var types = [Int32](repeating: TokenType.unused.rawValue, count: size)
        for (id, piece) in spm.pieces.enumerated() where id < size {
            tokens[id] = piece.text
            scores[id] = piece.score
            types[id] = [2, 3, 5, 6].contains(piece.type) ? piece.type : TokenType.normal.rawValue
        }
        if let added = try sideFile("added_tokens.json")?.objectValue {
            for (text, value) in added.entries {
                guard let id = value.intValue, id >= 0, id < size else { continue }
                (tokens[id], scores[id], types[id]) = (text, -1000, TokenType.userDefined.rawValue)
            }
        }
        if let decoder = try sideFile("tokenizer_config.json")?.objectValue?["added_tokens_decoder"]?.objectValue {
            for (key, value) in decoder.entries {
                guard let id = Int(key), id >= 0, id < size, let entry = value.objectValue,
                    let text = entry["content"]?.stringValue
                else { continue }
                if entry["special"]?.boolValue == true || looksSpecial(text) {
                    (tokens[id], types[id]) = (text, TokenType.control.rawValue)
                } else {
                    (tokens[id], types[id]) = (
                        text.replacingOccurrences(of: "\u{2581}", with: " "), TokenType.userDefined.rawValue
                    )
                }
                scores[id] = -1000
            }
        }
        var keys: [GGUFKeyValue] = []
        keys.add("tokenizer.ggml.model", .string("llama"))
        keys.add("tokenizer.ggml.pre", .string("default"))
        keys.add("tokenizer.ggml.tokens", .array(.string(tokens)))
        keys.add("tokenizer.ggml.scores", .array(.floats(scores)))
        keys.add("tokenizer.ggml.token_type", .array(.int32(types)))
        let tokenizer = try sideFile("tokenizer.json")?.objectValue ?? JSONObject()
        keys += try specialTokens(tokenizer, sideFile: sideFile, config: config, vocabularySize: size)
        return keys
    }
}
