import JSON
import ModelFormats

/// Special token ids, whether the tokenizer adds BOS/EOS/SEP, and the chat template: gguf-py's
/// SpecialVocab read of tokenizer.json's post-processor, tokenizer_config.json and config.json.
struct SpecialTokens {
    static let kinds = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
    static let idKeys = [
        "bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id", "unk": "tokenizer.ggml.unknown_token_id",
        "sep": "tokenizer.ggml.seperator_token_id", "pad": "tokenizer.ggml.padding_token_id",
        "cls": "tokenizer.ggml.cls_token_id",
        "mask": "tokenizer.ggml.mask_token_id",
    ]

    private(set) var ids: [(kind: String, id: Int)] = []
    private(set) var adds: [(kind: String, value: Bool)] = []
    private(set) var chatTemplate: String?

    init(tokenizer: JSONObject, tokenizerConfig: JSONObject?, config: HFConfig, added: [AddedToken], vocabularySize: Int) {
        var names: [String: String] = [:]  // kind -> token text, from tokenizer_config.json
        for kind in Self.kinds { if let text = Self.content(tokenizerConfig?["\(kind)_token"]) { names[kind] = text } }
        if names["bos"] == nil, let cls = names["cls"] { names["bos"] = cls }
        if names["eos"] == nil, let sep = names["sep"] { names["eos"] = sep }
        if let processor = tokenizer["post_processor"]?.objectValue {
            let steps = processor["processors"]?.arrayValue?.compactMap(\.objectValue) ?? [processor]
            for step in steps { readPostProcessor(step, names: &names, hasConfig: tokenizerConfig != nil) }
        }
        if let tokenizerConfig {
            for kind in Self.kinds {
                if let flag = tokenizerConfig["add_\(kind)_token"]?.boolValue, !adds.contains(where: { $0.kind == kind }) {
                    adds.append((kind, flag))
                }
                if let text = names[kind], let token = added.first(where: { $0.content == text }) {
                    set(kind, token.id, vocabularySize)
                }
            }
            chatTemplate = tokenizerConfig["chat_template"]?.stringValue
        }
        for kind in Self.kinds { if let id = config.int("\(kind)_token_id") { set(kind, id, vocabularySize) } }
    }

    var metadata: [GGUFKeyValue] {
        var keys: [GGUFKeyValue] = []
        for (kind, id) in ids { keys.add(Self.idKeys[kind]!, uint32: id) }
        for (kind, value) in adds where ["bos", "eos", "sep"].contains(kind) {
            keys.add("tokenizer.ggml.add_\(kind)_token", .bool(value))
        }
        if let chatTemplate { keys.add("tokenizer.chat_template", .string(chatTemplate)) }
        return keys
    }

    /// The first id given for a kind wins; ids outside the vocabulary are skipped.
    private mutating func set(_ kind: String, _ id: Int, _ vocabularySize: Int) {
        guard id >= 0, id < vocabularySize, !ids.contains(where: { $0.kind == kind }) else { return }
        ids.append((kind, id))
    }

    private mutating func setDefault(_ kind: String, _ value: Bool) {
        if !adds.contains(where: { $0.kind == kind }) { adds.append((kind, value)) }
    }

    private mutating func force(_ kind: String, _ value: Bool) {
        adds.removeAll { $0.kind == kind }
        adds.append((kind, value))
    }

    /// SpecialVocab's reading of one post-processor step: what the tokenizer adds around a text.
    private mutating func readPostProcessor(_ step: JSONObject, names: inout [String: String], hasConfig: Bool) {
        switch step["type"]?.stringValue {
        case "ByteLevel":
            setDefault("bos", false)
            setDefault("eos", false)
        case "RobertaProcessing":
            for kind in ["bos", "eos", "sep"] { force(kind, true) }
        case "TemplateProcessing":
            guard let single = step["single"]?.arrayValue, single.count > 1 else { return }
            if let first = single.first?.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue {
                if !hasConfig {
                    names["bos"] = first
                } else if first != names["bos"] && first != names["cls"] {
                    if names["bos"] == nil { names["bos"] = first }
                    if names["cls"] == nil { names["cls"] = first }
                }
                force("bos", first == names["bos"] || first == names["cls"])
            }
            if let last = single.last?.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue {
                if !hasConfig || last != names["eos"] { names["eos"] = last }
                force("eos", true)
            }
        default:
            break
        }
    }

    /// A token given as "text" or {"content": "text", ...}.
    static func content(_ value: JSONValue?) -> String? {
        value?.stringValue ?? value?.objectValue?["content"]?.stringValue
    }
}
