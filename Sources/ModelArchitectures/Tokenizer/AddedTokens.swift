import JSON
import ModelFormats

/// tokenizer.json's `added_tokens`: found in the raw text before anything else (leftmost, longest
/// first, as `tokenizers`' added vocabulary matches them), with their lstrip/rstrip/single_word flags.
struct AddedTokens: Sendable {
    struct Token: Sendable {
        let id: Int
        let content: [UInt8]
        let lstrip: Bool
        let rstrip: Bool
        let singleWord: Bool
    }

    enum Segment: Equatable {
        case token(Int)
        case text(String)
    }

    /// By first byte, longest first.
    private let byFirstByte: [UInt8: [Token]]
    private let ids: [String: Int]

    init(_ entries: [JSONValue]) throws {
        var tokens: [Token] = []
        var ids: [String: Int] = [:]
        for entry in entries {
            guard let object = entry.objectValue, let id = object["id"]?.intValue, let content = object["content"]?.stringValue,
                !content.isEmpty
            else {
                throw TokenizerError("tokenizer.json: an added token without id or content")
            }
            tokens.append(
                Token(
                    id: id, content: Array(content.utf8), lstrip: object["lstrip"]?.boolValue ?? false,
                    rstrip: object["rstrip"]?.boolValue ?? false,
                    singleWord: object["single_word"]?.boolValue ?? false))
            ids[content] = id
        }
        byFirstByte = Dictionary(grouping: tokens, by: { $0.content[0] }).mapValues {
            $0.sorted { $0.content.count > $1.content.count }
        }
        self.ids = ids
    }

    func id(of token: String) -> Int? { ids[token] }

    /// The text cut around the added tokens it holds.
    func split(_ text: String) -> [Segment] {
        guard !byFirstByte.isEmpty else { return [.text(text)] }
        let bytes = Array(text.utf8)
        var segments: [Segment] = []
        var textStart = 0
        var position = 0
        while position < bytes.count {
            guard let candidates = byFirstByte[bytes[position]],
                let token = candidates.first(where: { matches($0, bytes, at: position) })
            else {
                position += 1
                continue
            }
            var start = position
            var end = position + token.content.count
            if token.lstrip { while start > textStart, Self.isSpace(bytes[start - 1]) { start -= 1 } }
            if token.rstrip { while end < bytes.count, Self.isSpace(bytes[end]) { end += 1 } }
            if start > textStart { segments.append(.text(String(decoding: bytes[textStart..<start], as: UTF8.self))) }
            segments.append(.token(token.id))
            textStart = end
            position = end
        }
        if textStart < bytes.count { segments.append(.text(String(decoding: bytes[textStart...], as: UTF8.self))) }
        return segments
    }

    private func matches(_ token: Token, _ bytes: [UInt8], at position: Int) -> Bool {
        guard position + token.content.count <= bytes.count,
            bytes[position..<(position + token.content.count)].elementsEqual(token.content)
        else { return false }
        guard token.singleWord else { return true }
        let before = position == 0 || !Self.isWordByte(bytes[position - 1])
        let after = position + token.content.count == bytes.count || !Self.isWordByte(bytes[position + token.content.count])
        return before && after
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
    static func isWordByte(_ byte: UInt8) -> Bool {
        byte >= 0x80 || (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x5F
    }
}
