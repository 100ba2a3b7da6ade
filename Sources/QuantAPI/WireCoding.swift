import Foundation
import JSON

/// How API v1's types travel: plain JSONEncoder/JSONDecoder, keys spelled out in each type's
/// `CodingKeys` (snake_case on the wire). No key strategy: it would also rewrite the keys inside the
/// free-form parts (`JSONValue`), such as a tensor name in a summary.
public enum WireCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}

/// Links of a resource to itself and its neighbours ("self", "model", "report", "artifact", ...).
public typealias Links = [String: String]
