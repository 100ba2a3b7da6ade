/// JSON written straight to bytes, field by field, with commas placed for you: for documents built
/// on hot paths (an API response per request), where building a `JSONValue` tree first and then
/// serializing it cost twice the allocations. Same output rules as `JSONValue.serialized`.
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
        JSONValue.writeString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Any value; nil writes null.
    public mutating func value(_ value: JSONValue?) {
        separate()
        (value ?? .null).write(to: &bytes)
    }

    public mutating func string(_ text: String?) {
        separate()
        if let text { JSONValue.writeString(text, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    public mutating func integer<T: BinaryInteger>(_ number: T?) {
        separate()
        guard let number else { return bytes.append(contentsOf: "null".utf8) }
        guard let value = Int64(exactly: number) else { return bytes.append(contentsOf: String(number).utf8) }
        // Digits straight into the buffer (String(value) costs an allocation per number).
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
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
