import JSON
import ModelFormats

/// tokenizer.json's `post_processor`: what `add_special_tokens` puts around one sequence's ids.
indirect enum PostProcessor: Sendable {
    /// Ids before and after the sequence.
    case around(before: [Int], after: [Int])
    case sequence([PostProcessor])

    init(_ value: JSONValue, _ path: String) throws {
        let (type, object) = try componentType(value, path)
        switch type {
        case "ByteLevel": self = .around(before: [], after: [])  // offsets only
        case "TemplateProcessing":
            let specials = object["special_tokens"]?.objectValue ?? JSONObject()
            func ids(_ item: JSONValue) throws -> [Int] {
                guard let name = item.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue else { return [] }
                guard let ids = specials[name]?.objectValue?["ids"]?.arrayValue?.compactMap(\.intValue) else {
                    throw TokenizerError("tokenizer.json: \(path) uses special token \(name) without listing its ids")
                }
                return ids
            }
            let single = object["single"]?.arrayValue ?? []
            guard let sequence = single.firstIndex(where: { $0.objectValue?["Sequence"] != nil }) else {
                throw TokenizerError("tokenizer.json: \(path) single template has no $A")
            }
            self = .around(before: try single[..<sequence].flatMap(ids), after: try single[(sequence + 1)...].flatMap(ids))
        case "BertProcessing", "RobertaProcessing":
            guard let cls = object["cls"]?.arrayValue?.last?.intValue, let sep = object["sep"]?.arrayValue?.last?.intValue else {
                throw TokenizerError("tokenizer.json: \(path) needs cls and sep as [token, id]")
            }
            self = .around(before: [cls], after: [sep])
        case "Sequence": self = .sequence(try componentSequence(object, "processors", path, PostProcessor.init))
        default:
            throw TokenizerError.unsupported(
                "post-processor", type, implemented: "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence")
        }
    }

    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .around(let before, let after): before + ids + after
        case .sequence(let steps): steps.reduce(ids) { $1.apply($0) }
        }
    }
}
