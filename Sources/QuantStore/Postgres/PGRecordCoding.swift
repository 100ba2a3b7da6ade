import Foundation

/// The store's records (Codable, with snake_case column names as their coding keys) to and from
/// PostgreSQL rows, so the PostgreSQL backend uses the same record types as the SQLite one.
/// Column types: text, bigint, float8 (also for dates: seconds since 1970), boolean, bytea.
enum PGRecordCoding {
    static func decode<T: Decodable>(_ type: T.Type, from row: PGRow) throws -> T {
        try T(from: RowDecoder(row: row))
    }

    /// The record's columns and values, in the order its coding keys list them (nil values included
    /// as NULL, so an UPDATE of every column clears what the record cleared).
    static func columns<T: Encodable>(of record: T) throws -> [(name: String, value: PGValue)] {
        let encoder = ColumnEncoder()
        try record.encode(to: encoder)
        return encoder.storage.columns
    }

    /// `INSERT INTO table (columns) VALUES ($1, ...)` for one record, then `clause` (an ON CONFLICT).
    static func insert<T: Encodable>(_ record: T, into table: String, on connection: PGConnection, _ clause: String = "") throws {
        let columns = try columns(of: record)
        let placeholders = (1...columns.count).map { "$\($0)" }.joined(separator: ", ")
        try connection.query(
            "INSERT INTO \(table) (\(columns.map(\.name).joined(separator: ", "))) VALUES (\(placeholders)) \(clause)",
            columns.map(\.value))
    }
}

// MARK: - Decoding

private struct RowDecoder: Decoder {
    let row: PGRow
    var codingPath: [CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(row: row))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "rows are keyed"))
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "rows are keyed"))
    }
}

private struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: PGRow
    var codingPath: [CodingKey] = []
    var allKeys: [Key] { row.columns.names.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { row.columns.position(of: key.stringValue) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { row[key.stringValue] == nil }

    func text(_ key: Key) throws -> String {
        guard let value = row[key.stringValue] else {
            throw DecodingError.valueNotFound(
                String.self, .init(codingPath: [key], debugDescription: "column \(key.stringValue) is NULL or missing"))
        }
        return value
    }

    func parse<T>(_ key: Key, _ convert: (String) -> T?) throws -> T {
        let value = try text(key)
        guard let parsed = convert(value) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [key], debugDescription: "column \(key.stringValue): cannot read '\(value)' as \(T.self)"))
        }
        return parsed
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String { try text(key) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try parse(key) { $0 == "t" ? true : ($0 == "f" ? false : nil) }
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try parse(key) { Int($0) } }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try parse(key) { Int64($0) } }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try parse(key) { Double($0) } }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        switch type {
        case is Date.Type: return Date(timeIntervalSince1970: try decode(Double.self, forKey: key)) as! T
        case is Data.Type: return try parse(key) { PGRecordCoding.bytes(fromHex: $0) } as! T
        default: return try T(from: ValueDecoder(text: try text(key), codingPath: [key]))
        }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<
        NestedKey
    > {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: [key], debugDescription: "columns are flat"))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: [key], debugDescription: "columns are flat"))
    }

    func superDecoder() throws -> Decoder {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: [], debugDescription: "columns are flat"))
    }
    func superDecoder(forKey key: Key) throws -> Decoder { try superDecoder() }
}

/// One column's text, for values that decode themselves from a single value (String-backed enums).
private struct ValueDecoder: Decoder, SingleValueDecodingContainer {
    let text: String
    var codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { self }
    func decodeNil() -> Bool { false }
    func decode(_ type: String.Type) throws -> String { text }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        throw DecodingError.typeMismatch(
            type, .init(codingPath: codingPath, debugDescription: "only text columns decode as \(type)"))
    }
}

extension PGRecordCoding {
    /// bytea's text output: `\x` and two hex digits a byte.
    static func bytes(fromHex text: String) -> Data? {
        guard text.hasPrefix("\\x") else { return nil }
        let digits = Array(text.utf8.dropFirst(2))
        guard digits.count % 2 == 0 else { return nil }
        var bytes = Data(capacity: digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

// MARK: - Encoding

private final class ColumnStorage {
    var columns: [(name: String, value: PGValue)] = []
}

private struct ColumnEncoder: Encoder {
    let storage = ColumnStorage()
    var codingPath: [CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(ColumnContainer<Key>(storage: storage))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer { fatalError("records encode keyed columns only") }
    func singleValueContainer() -> SingleValueEncodingContainer { fatalError("records encode keyed columns only") }
}

private struct ColumnContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: ColumnStorage
    var codingPath: [CodingKey] = []

    func put(_ key: Key, _ value: PGValue) { storage.columns.append((key.stringValue, value)) }

    mutating func encodeNil(forKey key: Key) throws { put(key, .null) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(key, .text(value)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(key, .bool(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(key, .int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(key, .int(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(key, .double(value)) }

    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { put(key, PGValue(value)) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { put(key, PGValue(value)) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { put(key, PGValue(value)) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { put(key, value.map { PGValue($0) } ?? .null) }

    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        guard let value else { return put(key, .null) }
        try encode(value, forKey: key)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        switch value {
        case let date as Date: put(key, .double(date.timeIntervalSince1970))
        case let data as Data: put(key, .bytes(Array(data)))
        case let raw as any RawRepresentable<String>: put(key, .text(raw.rawValue))
        default:
            throw EncodingError.invalidValue(value, .init(codingPath: [key], debugDescription: "no column type for \(T.self)"))
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        fatalError("columns are flat")
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer { fatalError("columns are flat") }
    mutating func superEncoder() -> Encoder { fatalError("columns are flat") }
    mutating func superEncoder(forKey key: Key) -> Encoder { fatalError("columns are flat") }
}
