/// A JSON document as parsed by `StrictJSON`: object keys keep their order (so a header written back
/// looks like the one read) and numbers keep their source text (so a u64 offset never passes
/// through a Double and loses precision).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
    /// Text that is already JSON (trusted, e.g. a document this program serialized before), written
    /// out as is: saves parsing and re-serializing stored documents on hot paths.
    case fragment(String)

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value as a non-negative integer, only if it is written as plain digits (no sign, fraction
    /// or exponent) and fits in 64 bits.
    public var uint64Value: UInt64? {
        guard case .number(let text) = self, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return UInt64(text)
    }

    /// The value as an Int, only if written as an integer (optional leading minus).
    public var intValue: Int? {
        guard case .number(let text) = self else { return nil }
        return Int(text)
    }

    public var doubleValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// A short name of the JSON type, for error messages ("expected a string, found an array").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        case .fragment: "a JSON fragment"
        }
    }
}

/// A JSON object with its keys in document order. Keys are unique: the parser rejects duplicates.
public struct JSONObject: Equatable, Sendable {
    public private(set) var entries: [(key: String, value: JSONValue)] = []
    /// Key to position, built only once an object grows past `linearLimit` keys: API responses are
    /// small objects built per request, where hashing every key costs more than a short scan.
    private var index: [String: Int]?
    private static let linearLimit = 16

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        entries.reserveCapacity(pairs.count)
        for (key, value) in pairs { self[key] = value }
    }

    public var keys: [String] { entries.map(\.key) }
    public var count: Int { entries.count }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return entries.firstIndex { $0.key == key }
    }

    private mutating func append(_ key: String, _ value: JSONValue) {
        entries.append((key, value))
        if index != nil {
            index?[key] = entries.count - 1
        } else if entries.count > Self.linearLimit {
            index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($0.element.key, $0.offset) })
        }
    }

    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { entries[$0].value } }
        set {
            if let position = position(of: key) {
                if let newValue { entries[position].value = newValue } else { remove(at: position) }
            } else if let newValue {
                append(key, newValue)
            }
        }
    }

    /// Inserts a new key, returning false (and changing nothing) if it is already present.
    public mutating func insertNew(_ key: String, _ value: JSONValue) -> Bool {
        guard position(of: key) == nil else { return false }
        append(key, value)
        return true
    }

    private mutating func remove(at position: Int) {
        entries.remove(at: position)
        index =
            entries.count > Self.linearLimit
            ? Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($0.element.key, $0.offset) }) : nil
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
