/// A `JSONValue` as text, through the one writer (`JSONStream`).
extension JSONValue {
    public var serialized: String { String(decoding: serializedBytes, as: UTF8.self) }

    public var serializedBytes: [UInt8] {
        var out = JSONStream(capacity: 1024)
        out.value(self)
        return out.bytes
    }

    public static func integer<T: BinaryInteger>(_ value: T) -> JSONValue { .number(String(value)) }
}
