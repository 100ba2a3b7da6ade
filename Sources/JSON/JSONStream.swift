/// The one JSON writer: compact and deterministic (keys in the order given), so the same input always
/// gives the same bytes, as file headers need. Documents built on hot paths (an API response per
/// request) are written field by field, with commas placed for you, since building a `JSONValue`
/// tree first and then serializing it cost twice the allocations; a tree is written by `value(_:)`.
/// It appends UTF-8 bytes to an array: appending to a String re-checks encoding and grapheme state
/// on every piece, which made serialization the largest cost of polling a job.
public struct JSONStream {
    public private(set) var bytes: [UInt8] = []
    /// Per open container: whether it already holds an element (so the next one needs a comma).
    private var filled: [Bool] = []
    /// Just after a key: the value that follows takes no comma.
    private var afterKey = false

    public init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        guard let last = filled.indices.last else { return }
        if filled[last] { bytes.append(UInt8(ascii: ",")) }
        filled[last] = true
    }

    public mutating func beginObject() { open(UInt8(ascii: "{")) }
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    public mutating func beginArray() { open(UInt8(ascii: "[")) }
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        filled.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        _ = filled.popLast()
        bytes.append(bracket)
    }

    public mutating func key(_ name: String) {
        separate()
        Self.writeString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Any value, a whole tree; nil writes null.
    public mutating func value(_ value: JSONValue?) {
        switch value ?? .null {
        case .null: literal("null")
        case .bool(let flag): literal(flag ? "true" : "false")
        case .number(let text), .fragment(let text): literal(text)
        case .string(let text): string(text)
        case .array(let items):
            beginArray()
            for item in items { self.value(item) }
            endArray()
        case .object(let object):
            beginObject()
            for entry in object.entries {
                key(entry.key)
                self.value(entry.value)
            }
            endObject()
        }
    }

    private mutating func literal(_ text: String) {
        separate()
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func string(_ text: String?) {
        separate()
        if let text { Self.writeString(text, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    /// A JSON string: quote, backslash and control characters escaped; everything else (including
    /// multi-byte UTF-8, whose bytes are all >= 0x80) copied as is.
    static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (ids, names, timestamps) need no escape: copy their bytes in one go.
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex = Array("0123456789abcdef".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), byte])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20: out.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    public mutating func integer<T: BinaryInteger>(_ number: T?) {
        separate()
        guard let number else { return bytes.append(contentsOf: "null".utf8) }
        guard let value = Int64(exactly: number) else { return bytes.append(contentsOf: String(number).utf8) }
        // Digits straight into the buffer (String(value) costs an allocation per number).
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[i]) }
        }
    }

    /// Text that is already JSON (see `JSONValue.fragment`); nil writes null.
    public mutating func fragment(_ text: String?) {
        separate()
        bytes.append(contentsOf: (text ?? "null").utf8)
    }

    /// A string made of `text` bytes that need no escaping (the caller guarantees it: digits and
    /// ASCII punctuation), between quotes.
    public mutating func plainString(_ text: [UInt8]) {
        plainString { $0.append(contentsOf: text) }
    }

    /// The same, with `write` appending the bytes to the document itself (no array of its own).
    public mutating func plainString(writing write: (inout [UInt8]) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        write(&bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}
