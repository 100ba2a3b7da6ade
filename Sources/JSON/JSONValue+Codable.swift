/// A `JSONValue` inside Codable types: the free-form parts of the API (a job's recipe, a summary's
/// evaluation) keep their shape through a JSONEncoder or JSONDecoder. Numbers go through Int64 when
/// they are integers, else Double; object keys come back sorted (a Decoder keeps no order).
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let integer = try? container.decode(Int64.self) {
            self = .integer(integer)
        } else if let number = try? container.decode(Double.self) {
            self = number.isFinite ? .number("\(number)") : .null  // the shortest text that reads back the same
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let items = try? container.decode([JSONValue].self) {
            self = .array(items)
        } else {
            let fields = try container.decode([String: JSONValue].self)
            self = .object(JSONObject(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .number(let text):
            var container = encoder.singleValueContainer()
            if let integer = Int64(text) { try container.encode(integer) } else { try container.encode(Double(text) ?? .nan) }
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .object(let object):
            var container = encoder.container(keyedBy: AnyKey.self)
            for entry in object.entries { try container.encode(entry.value, forKey: AnyKey(entry.key)) }
        case .fragment(let text):
            try StrictJSON.parse(text).encode(to: encoder)
        }
    }

    /// A key named at run time. Encoders apply their key strategy to these too, so the types that
    /// embed a `JSONValue` are encoded with keys left as they are (see `WireCoding`).
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
