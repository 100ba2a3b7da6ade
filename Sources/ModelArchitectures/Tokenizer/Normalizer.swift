import Foundation
import JSON
import ModelFormats

/// tokenizer.json's `normalizer`, applied to the text between added tokens.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd, lowercase, stripAccents
    case prepend(String)
    case replace(TextPattern, String)
    case bert(cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case sequence([Normalizer])

    init(_ value: JSONValue, _ path: String) throws {
        let (type, object) = try componentType(value, path)
        switch type {
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "StripAccents": self = .stripAccents
        case "Prepend": self = .prepend(object["prepend"]?.stringValue ?? "")
        case "Replace":
            self = .replace(try TextPattern(object["pattern"], "\(path).pattern"), object["content"]?.stringValue ?? "")
        case "BertNormalizer":
            let lowercase = object["lowercase"]?.boolValue ?? true
            self = .bert(
                cleanText: object["clean_text"]?.boolValue ?? true,
                chineseChars: object["handle_chinese_chars"]?.boolValue ?? true,
                stripAccents: object["strip_accents"]?.boolValue ?? lowercase, lowercase: lowercase)
        case "Sequence": self = .sequence(try componentSequence(object, "normalizers", path, Normalizer.init))
        default:
            throw TokenizerError.unsupported(
                "normalizer", type,
                implemented: "NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Prepend, Replace, BertNormalizer, Sequence")
        }
    }

    func apply(_ text: String) -> String {
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .lowercase: return text.lowercased()
        case .stripAccents: return Self.withoutMarks(text)
        case .prepend(let prefix): return text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content): return pattern.replaceAll(in: text, with: content)
        case .sequence(let steps): return steps.reduce(text) { $1.apply($0) }
        case .bert(let cleanText, let chineseChars, let stripAccents, let lowercase):
            var scalars = String.UnicodeScalarView()
            for scalar in text.unicodeScalars {
                if cleanText {
                    if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                    if Self.isBertWhitespace(scalar) {
                        scalars.append(" ")
                        continue
                    }
                }
                if chineseChars, Self.isChinese(scalar) {
                    scalars.append(" ")
                    scalars.append(scalar)
                    scalars.append(" ")
                } else {
                    scalars.append(scalar)
                }
            }
            var result = String(scalars)
            if stripAccents { result = Self.withoutMarks(result.decomposedStringWithCanonicalMapping) }
            if lowercase { result = result.lowercased() }
            return result
        }
    }

    /// NFD then drop nonspacing marks, as `tokenizers`' StripAccents (which expects NFD input).
    static func withoutMarks(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }))
    }

    static func isBertWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r"
            || scalar.properties.generalCategory == .spaceSeparator
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate, .unassigned: return true
        default: return false
        }
    }

    static func isChinese(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v)
            || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v) || (0xF900...0xFAFF).contains(v)
            || (0x2F800...0x2FA1F).contains(v)
    }
}

/// A `pattern` of tokenizer.json: `{"String": "..."}` (literal) or `{"Regex": "..."}`.
struct TextPattern: @unchecked Sendable {
    let literal: String?
    let regex: NSRegularExpression?

    init(_ value: JSONValue?, _ path: String) throws {
        guard let object = value?.objectValue else {
            throw TokenizerError("tokenizer.json: \(path) must be {\"String\": ...} or {\"Regex\": ...}")
        }
        if let text = object["String"]?.stringValue {
            literal = text
            regex = nil
        } else if let pattern = object["Regex"]?.stringValue {
            literal = nil
            do { regex = try NSRegularExpression(pattern: pattern) } catch {
                throw TokenizerError(
                    "tokenizer.json: \(path) regex '\(pattern)' does not compile here: \(error.localizedDescription)")
            }
        } else {
            throw TokenizerError("tokenizer.json: \(path) must be {\"String\": ...} or {\"Regex\": ...}")
        }
    }

    init(regex pattern: String) {
        literal = nil
        regex = try! NSRegularExpression(pattern: pattern)
    }

    /// The ranges of every non-overlapping match, in order.
    func matches(in text: String) -> [Range<String.Index>] {
        if let literal {
            guard !literal.isEmpty else { return [] }
            var ranges: [Range<String.Index>] = []
            var start = text.startIndex
            while let found = text.range(of: literal, options: .literal, range: start..<text.endIndex) {
                ranges.append(found)
                start = found.upperBound
            }
            return ranges
        }
        let whole = NSRange(text.startIndex..<text.endIndex, in: text)
        return regex!.matches(in: text, range: whole).compactMap { Range($0.range, in: text) }.filter { !$0.isEmpty }
    }

    func replaceAll(in text: String, with content: String) -> String {
        var result = ""
        var last = text.startIndex
        // Scalar views: a match may end inside a grapheme cluster ("\r" of "\r\n").
        let scalars = text.unicodeScalars
        for range in matches(in: text) {
            result += String(scalars[last..<range.lowerBound])
            result += content
            last = range.upperBound
        }
        return result + String(scalars[last...])
    }
}
