/// A strict RFC 8259 JSON parser for untrusted headers.
///
/// Foundation's JSONSerialization silently keeps one of two duplicate keys, which lets a checker and
/// a loader disagree about a file; this parser rejects duplicates. It also caps nesting depth so a
/// header of a million `[` cannot exhaust the stack, and it reports the byte offset of each error.
public enum StrictJSON {
    public static let defaultMaxDepth = 64

    /// Parses one JSON value; only whitespace may follow it.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        var copy = text
        return try copy.withUTF8 { try parse(UnsafeRawBufferPointer($0), maxDepth: maxDepth) }
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var position = 0

        init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        func error(_ message: String) -> JSONError {
            JSONError(.syntax, message, offset: position)
        }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
        }

        mutating func expect(_ literal: StaticString) throws {
            let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
            guard bytes.count - position >= expected.count,
                expected.indices.allSatisfy({ bytes[position + $0] == expected[$0] })
            else { throw error("invalid literal") }
            position += expected.count
        }

        mutating func parseValue(depth: Int) throws -> JSONValue {
            guard let byte = current else { throw error("unexpected end of JSON") }
            switch byte {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw error("unexpected character '\(printable(byte))'")
            }
        }

        mutating func parseObject(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw error("JSON nested deeper than \(maxDepth) levels") }
            position += 1
            var object = JSONObject()
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                position += 1
                return .object(object)
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyOffset = position
                let key = try parseString()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
                position += 1
                skipWhitespace()
                let value = try parseValue(depth: depth)
                guard object.insertNew(key, value) else {
                    throw JSONError(.duplicateKey, "duplicate key '\(key)'", offset: keyOffset)
                }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"):
                    position += 1
                    return .object(object)
                default: throw error("expected ',' or '}' in an object")
                }
            }
        }

        mutating func parseArray(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw error("JSON nested deeper than \(maxDepth) levels") }
            position += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"):
                    position += 1
                    return .array(items)
                default: throw error("expected ',' or ']' in an array")
                }
            }
        }

        mutating func parseNumber() throws -> JSONValue {
            let start = position
            if current == UInt8(ascii: "-") { position += 1 }
            guard let first = current, isDigit(first) else { throw error("invalid number") }
            if first == UInt8(ascii: "0") {
                position += 1
            } else {
                while let byte = current, isDigit(byte) { position += 1 }
            }
            if current == UInt8(ascii: ".") {
                position += 1
                guard let byte = current, isDigit(byte) else { throw error("invalid number: digits must follow '.'") }
                while let byte = current, isDigit(byte) { position += 1 }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard let byte = current, isDigit(byte) else { throw error("invalid number exponent") }
                while let byte = current, isDigit(byte) { position += 1 }
            }
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
        }

        mutating func parseString() throws -> String {
            position += 1  // opening quote
            var out: [UInt8] = []
            let start = position
            // Fast path: no escapes.
            while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                guard byte >= 0x20 else { throw error("control character in a string") }
                position += 1
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
            while true {
                guard let byte = current else { throw error("unterminated string") }
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: out, as: UTF8.self) else {
                        throw JSONError(.invalidUTF8, "string is not valid UTF-8", offset: start)
                    }
                    return text
                case UInt8(ascii: "\\"):
                    try parseEscape(into: &out)
                case 0..<0x20:
                    position -= 1
                    throw error("control character in a string")
                default:
                    out.append(byte)
                }
            }
        }

        mutating func parseEscape(into out: inout [UInt8]) throws {
            guard let byte = current else { throw error("unterminated escape") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard current == UInt8(ascii: "\\") else { throw error("unpaired UTF-16 surrogate") }
                    position += 1
                    guard current == UInt8(ascii: "u") else { throw error("unpaired UTF-16 surrogate") }
                    position += 1
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired UTF-16 surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("unpaired UTF-16 surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid unicode escape") }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                position -= 1
                throw error("invalid escape '\\\(printable(byte))'")
            }
        }

        mutating func parseHex4() throws -> UInt32 {
            guard bytes.count - position >= 4 else { throw error("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("invalid hex digit in \\u escape")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

        func printable(_ byte: UInt8) -> String {
            (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16)
        }
    }
}
