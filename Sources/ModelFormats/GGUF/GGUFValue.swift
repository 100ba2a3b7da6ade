/// GGUF metadata value type codes.
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Encoded size of one element, for fixed-size types.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}

/// One metadata value. Floats are kept as their bit patterns' values, so a file read and written back
/// is byte-identical (NaN payloads included).
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        case .array: .array
        }
    }

    public static func == (lhs: GGUFValue, rhs: GGUFValue) -> Bool {
        switch (lhs, rhs) {
        case (.float32(let a), .float32(let b)): a.bitPattern == b.bitPattern
        case (.float64(let a), .float64(let b)): a.bitPattern == b.bitPattern
        case (.uint8(let a), .uint8(let b)): a == b
        case (.int8(let a), .int8(let b)): a == b
        case (.uint16(let a), .uint16(let b)): a == b
        case (.int16(let a), .int16(let b)): a == b
        case (.uint32(let a), .uint32(let b)): a == b
        case (.int32(let a), .int32(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.uint64(let a), .uint64(let b)): a == b
        case (.int64(let a), .int64(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        default: false
        }
    }
}

/// A typed GGUF array. Arrays of arrays are not allowed by the reference reader, so the type cannot
/// express them.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8])
    case int8([Int8])
    case uint16([UInt16])
    case int16([Int16])
    case uint32([UInt32])
    case int32([Int32])
    case float32([UInt32])
    case bool([Bool])
    case string([String])
    case uint64([UInt64])
    case int64([Int64])
    case float64([UInt64])

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    public var count: Int {
        switch self {
        case .uint8(let v): v.count
        case .int8(let v): v.count
        case .uint16(let v): v.count
        case .int16(let v): v.count
        case .uint32(let v): v.count
        case .int32(let v): v.count
        case .float32(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        case .uint64(let v): v.count
        case .int64(let v): v.count
        case .float64(let v): v.count
        }
    }

    /// Float arrays hold bit patterns (for exact round trips); these give the values.
    public static func floats(_ values: [Float]) -> GGUFArray { .float32(values.map(\.bitPattern)) }
    public static func doubles(_ values: [Double]) -> GGUFArray { .float64(values.map(\.bitPattern)) }
}

/// A key and its value, in file order.
public struct GGUFKeyValue: Sendable, Equatable {
    public let key: String
    public let value: GGUFValue

    public init(_ key: String, _ value: GGUFValue) {
        self.key = key
        self.value = value
    }
}
