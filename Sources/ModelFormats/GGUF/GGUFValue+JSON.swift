import JSON

/// A floating-point GGUF value (a scalar, or an array item, which is stored as its bit pattern).
public enum GGUFFloat: Sendable {
    case f32(Float)
    case f64(Double)

    public var double: Double {
        switch self {
        case .f32(let value): Double(value)
        case .f64(let value): value
        }
    }
}

extension GGUFValue {
    /// The value as JSON: integers, booleans and strings as they are, arrays item by item (at most
    /// `limit` of them), floats through `float`: readers want numbers, exact checks bit patterns.
    public func json(arrayLimit limit: Int = .max, float: (GGUFFloat) -> JSONValue) -> JSONValue {
        switch self {
        case .uint8(let v): .integer(v)
        case .int8(let v): .integer(v)
        case .uint16(let v): .integer(v)
        case .int16(let v): .integer(v)
        case .uint32(let v): .integer(v)
        case .int32(let v): .integer(v)
        case .uint64(let v): .integer(v)
        case .int64(let v): .integer(v)
        case .float32(let v): float(.f32(v))
        case .float64(let v): float(.f64(v))
        case .bool(let v): .bool(v)
        case .string(let v): .string(v)
        case .array(let array): .array(array.jsonItems(limit: limit, float: float))
        }
    }
}

extension GGUFArray {
    /// The first `limit` items as JSON, as `GGUFValue.json` writes them.
    public func jsonItems(limit: Int = .max, float: (GGUFFloat) -> JSONValue) -> [JSONValue] {
        switch self {
        case .uint8(let v): v.prefix(limit).map { .integer($0) }
        case .int8(let v): v.prefix(limit).map { .integer($0) }
        case .uint16(let v): v.prefix(limit).map { .integer($0) }
        case .int16(let v): v.prefix(limit).map { .integer($0) }
        case .uint32(let v): v.prefix(limit).map { .integer($0) }
        case .int32(let v): v.prefix(limit).map { .integer($0) }
        case .uint64(let v): v.prefix(limit).map { .integer($0) }
        case .int64(let v): v.prefix(limit).map { .integer($0) }
        case .float32(let v): v.prefix(limit).map { float(.f32(Float(bitPattern: $0))) }
        case .float64(let v): v.prefix(limit).map { float(.f64(Double(bitPattern: $0))) }
        case .bool(let v): v.prefix(limit).map { .bool($0) }
        case .string(let v): v.prefix(limit).map { .string($0) }
        }
    }
}
