import Foundation
import JSON
import ModelFormats

/// tokenizer.json's `pre_tokenizer`: cuts normalized text into the words the model tokenizes.
indirect enum PreTokenizer: Sendable {
    enum Behavior: String, Sendable {
        case isolated = "Isolated", removed = "Removed", mergedWithPrevious = "MergedWithPrevious", mergedWithNext =
            "MergedWithNext"
    }

    case split(TextPattern, Behavior)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case metaspace(replacement: String, prependFirstOnly: Bool, prepend: Bool, split: Bool)
    case bert
    case whitespace
    case whitespaceSplit
    case digits(individual: Bool)
    case punctuation(Behavior)
    case sequence([PreTokenizer])

    /// GPT-2's split, used by ByteLevel with use_regex.
    static let gpt2 = TextPattern(regex: #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#)
    static let words = TextPattern(regex: #"\w+|[^\w\s]+"#)

    init(_ value: JSONValue, _ path: String) throws {
        let (type, object) = try componentType(value, path)
        func behavior(_ name: String?) throws -> Behavior {
            guard let behavior = Behavior(rawValue: name ?? "Isolated") else {
                throw TokenizerError(
                    "tokenizer.json: \(path) behavior \(name ?? "") is not implemented (Isolated, Removed, MergedWithPrevious, MergedWithNext are)"
                )
            }
            return behavior
        }
        switch type {
        case "Split":
            guard object["invert"]?.boolValue != true else {
                throw TokenizerError("tokenizer.json: \(path) Split with invert is not implemented")
            }
            self = .split(try TextPattern(object["pattern"], "\(path).pattern"), try behavior(object["behavior"]?.stringValue))
        case "ByteLevel":
            self = .byteLevel(
                addPrefixSpace: object["add_prefix_space"]?.boolValue ?? true, useRegex: object["use_regex"]?.boolValue ?? true)
        case "Metaspace":
            let scheme =
                object["prepend_scheme"]?.stringValue ?? ((object["add_prefix_space"]?.boolValue ?? true) ? "always" : "never")
            self = .metaspace(
                replacement: object["replacement"]?.stringValue ?? "\u{2581}", prependFirstOnly: scheme == "first",
                prepend: scheme != "never",
                split: object["split"]?.boolValue ?? true)
        case "BertPreTokenizer": self = .bert
        case "Whitespace": self = .whitespace
        case "WhitespaceSplit": self = .whitespaceSplit
        case "Digits": self = .digits(individual: object["individual_digits"]?.boolValue ?? false)
        case "Punctuation": self = .punctuation(try behavior(object["behavior"]?.stringValue))
        case "Sequence": self = .sequence(try componentSequence(object, "pretokenizers", path, PreTokenizer.init))
        default:
            throw TokenizerError.unsupported(
                "pre-tokenizer", type,
                implemented:
                    "Split, ByteLevel, Metaspace, BertPreTokenizer, Whitespace, WhitespaceSplit, Digits, Punctuation, Sequence")
        }
    }

    /// `isFirst`: the text is the first segment of the input (Metaspace's "first" scheme).
    func split(_ text: String, isFirst: Bool) -> [String] { apply([text], isFirst: isFirst) }

    private func apply(_ pieces: [String], isFirst: Bool) -> [String] {
        switch self {
        case .sequence(let steps): return steps.reduce(pieces) { $1.apply($0, isFirst: isFirst) }
        default: return pieces.enumerated().flatMap { index, piece in splitOne(piece, isFirst: isFirst && index == 0) }
        }
    }

    private func splitOne(_ text: String, isFirst: Bool) -> [String] {
        switch self {
        case .split(let pattern, let behavior):
            return Self.cut(text, at: pattern.matches(in: text), behavior)
        case .byteLevel(let addPrefixSpace, let useRegex):
            var text = text
            if addPrefixSpace, !text.hasPrefix(" ") { text = " " + text }
            let words = useRegex ? Self.cut(text, at: Self.gpt2.matches(in: text), .isolated) : [text]
            return words.map(ByteLevel.encode)
        case .metaspace(let replacement, let firstOnly, let prepend, let split):
            var text = text.replacingOccurrences(of: " ", with: replacement)
            if prepend, !text.hasPrefix(replacement), !firstOnly || isFirst { text = replacement + text }
            guard split else { return [text] }
            return Self.cut(text, at: TextPattern(literalText: replacement).matches(in: text), .mergedWithNext)
        case .bert:
            return Self.splitScalars(text) { scalar in
                if Normalizer.isBertWhitespace(scalar) { return .removed }
                return Self.isPunctuation(scalar) ? .isolated : nil
            }
        case .whitespace:
            return Self.words.matches(in: text).map { String(text.unicodeScalars[$0]) }
        case .whitespaceSplit:
            return Self.splitScalars(text) { $0.properties.isWhitespace ? .removed : nil }
        case .digits(let individual):
            if individual { return Self.splitScalars(text) { $0.properties.numericType == .decimal ? .isolated : nil } }
            return Self.cut(text, at: TextPattern(regex: #"\p{Nd}+"#).matches(in: text), .isolated)
        case .punctuation(let behavior):
            return Self.splitScalars(text) { Self.isPunctuation($0) ? behavior : nil }
        case .sequence:
            return apply([text], isFirst: isFirst)
        }
    }

    /// Cuts around matches as `tokenizers`' SplitDelimiterBehavior does.
    static func cut(_ text: String, at matches: [Range<String.Index>], _ behavior: Behavior) -> [String] {
        let scalars = text.unicodeScalars
        var pieces: [String] = []
        var last = text.startIndex
        var pendingPrevious = false
        for range in matches {
            let before = String(scalars[last..<range.lowerBound])
            let match = String(scalars[range])
            switch behavior {
            case .isolated:
                if !before.isEmpty { pieces.append(before) }
                pieces.append(match)
            case .removed:
                if !before.isEmpty { pieces.append(before) }
            case .mergedWithPrevious:
                pieces.append(before + match)
            case .mergedWithNext:
                if !before.isEmpty {
                    if pendingPrevious, let lastPiece = pieces.popLast() {
                        pieces.append(lastPiece + before)
                    } else {
                        pieces.append(before)
                    }
                }
                pieces.append(match)
                pendingPrevious = true
            }
            last = range.upperBound
        }
        let rest = String(scalars[last...])
        if !rest.isEmpty {
            if behavior == .mergedWithNext, pendingPrevious, let lastPiece = pieces.popLast() {
                pieces.append(lastPiece + rest)
            } else {
                pieces.append(rest)
            }
        }
        return pieces
    }

    /// Splits where `rule` says: isolated scalars stand alone, removed ones go.
    static func splitScalars(_ text: String, _ rule: (Unicode.Scalar) -> Behavior?) -> [String] {
        var pieces: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch rule(scalar) {
            case nil: current.append(scalar)
            case .removed?:
                if !current.isEmpty { pieces.append(String(current)) }
                current = String.UnicodeScalarView()
            default:
                if !current.isEmpty { pieces.append(String(current)) }
                pieces.append(String(scalar))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { pieces.append(String(current)) }
        return pieces
    }

    /// `tokenizers`' is_punctuation: ASCII punctuation or a Unicode P* category.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII, let byte = UInt8(exactly: scalar.value),
            (33...47).contains(byte) || (58...64).contains(byte) || (91...96).contains(byte) || (123...126).contains(byte)
        {
            return true
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
            .otherPunctuation:
            return true
        default: return false
        }
    }
}

extension TextPattern {
    init(literalText: String) {
        literal = literalText
        regex = nil
    }
}

/// GPT-2's byte-to-unicode table: each byte is a printable character, so byte-level BPE sees text.
enum ByteLevel {
    static let table: [Character] = (0..<256).map { byte in
        let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
        if printable { return Character(UnicodeScalar(UInt8(byte))) }
        let shift = (0..<byte).filter { !((33...126).contains($0) || (161...172).contains($0) || (174...255).contains($0)) }.count
        return Character(UnicodeScalar(UInt32(256 + shift))!)
    }

    static func encode(_ text: String) -> String { String(text.utf8.map { table[Int($0)] }) }
}
