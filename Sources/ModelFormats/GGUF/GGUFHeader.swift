/// One tensor as described by a GGUF tensor info.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: dims[0] is the contiguous dimension (numpy shape reversed).
    public let dims: [Int]
    public let type: GGMLType
    /// Offset relative to the start of the data section.
    public let offset: Int
    public let byteCount: Int

    /// numpy/safetensors order (slowest dimension first).
    public var shape: [Int] { dims.reversed() }
    public var elementCount: Int { dims.reduce(1, *) }
}

/// A validated GGUF header: version, metadata in file order, tensor infos and the data layout.
public struct GGUFHeader: Sendable, Equatable {
    public static let defaultAlignment = 32
    public static let magic: [UInt8] = Array("GGUF".utf8)

    public let version: UInt32
    public let metadata: [GGUFKeyValue]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataStart: Int

    public func value(forKey key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }

    /// Parses and validates the header of a complete file held in `bytes`, with every rule of
    /// docs/INPUT-FORMATS.md. Each count is compared with the remaining bytes before allocation.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: GGUFLimits = .default) throws -> GGUFHeader {
        var cursor = ByteCursor(bytes)
        let magic = try cursor.readBytes(4, "magic")
        guard Array(magic) == GGUFHeader.magic else {
            throw FormatError(.badMagic, "file does not start with 'GGUF'", offset: 0)
        }
        let version = try cursor.readU32("version")
        guard version == 2 || version == 3 else {
            throw FormatError(.unsupportedVersion, "GGUF version \(version) is not supported (2 or 3)", offset: 4)
        }
        let tensorCount = try cursor.readU64("tensor count")
        let kvCount = try cursor.readU64("metadata count")
        guard tensorCount <= UInt64(limits.maxTensorCount) else {
            throw FormatError(
                .limitExceeded, "tensor count \(tensorCount) exceeds the limit of \(limits.maxTensorCount)", offset: 8)
        }
        guard kvCount <= UInt64(limits.maxKeyValueCount) else {
            throw FormatError(
                .limitExceeded, "metadata count \(kvCount) exceeds the limit of \(limits.maxKeyValueCount)", offset: 16)
        }
        // Smallest possible entries: a KV is a 1-byte key (8+1), a type (4) and a 1-byte value; a
        // tensor info is a 1-byte name (8+1), n_dims (4), one dim (8), a type (4) and an offset (8).
        try cursor.require(
            Int(kvCount) * 14 + Int(tensorCount) * 33, "\(kvCount) metadata entries and \(tensorCount) tensor infos")

        var reader = ValueReader(cursor: cursor, limits: limits)
        var metadata: [GGUFKeyValue] = []
        var keys = Set<String>()
        metadata.reserveCapacity(Int(kvCount))
        for _ in 0..<kvCount {
            let keyOffset = reader.cursor.position
            let key = try reader.readString("metadata key")
            guard !key.isEmpty else { throw FormatError(.emptyKey, "metadata key is empty", offset: keyOffset) }
            guard keys.insert(key).inserted else {
                throw FormatError(.duplicateKey, "metadata key '\(key)' appears twice", offset: keyOffset)
            }
            let value = try reader.readValue(key: key)
            metadata.append(GGUFKeyValue(key, value))
        }
        let alignment = try Self.alignment(in: metadata)

        var infos: [(name: String, dims: [Int], type: GGMLType, offset: UInt64, at: Int)] = []
        var names = Set<String>()
        for _ in 0..<tensorCount {
            let at = reader.cursor.position
            let name = try reader.readString("tensor name")
            guard name.utf8.count <= limits.maxNameBytes else {
                throw FormatError(
                    .invalidName, "tensor name is \(name.utf8.count) bytes; GGUF allows at most \(limits.maxNameBytes)",
                    offset: at, tensor: name)
            }
            guard names.insert(name).inserted else {
                throw FormatError(.duplicateName, "tensor name appears twice", offset: at, tensor: name)
            }
            let rank = try reader.cursor.readU32("n_dims")
            guard (1...4).contains(rank) else {
                throw FormatError(
                    .invalidDims, "n_dims is \(rank); it must be 1 to 4", offset: reader.cursor.position - 4, tensor: name)
            }
            var dims: [Int] = []
            for _ in 0..<rank {
                let dim = try reader.cursor.readU64("dimension")
                guard dim <= UInt64(Int64.max) else {
                    throw FormatError(
                        .invalidDims, "dimension \(Int64(bitPattern: dim)) is negative", offset: reader.cursor.position - 8,
                        tensor: name)
                }
                dims.append(Int(dim))
            }
            let typeID = try reader.cursor.readU32("tensor type")
            guard let type = GGMLType.withID(typeID) else {
                let why = GGMLType.removedIDs.contains(typeID) ? "was removed from ggml" : "is unknown"
                throw FormatError(
                    .unknownTensorType, "ggml type \(typeID) \(why)", offset: reader.cursor.position - 4, tensor: name)
            }
            let offset = try reader.cursor.readU64("tensor offset")
            infos.append((name, dims, type, offset, at))
        }
        let dataStart = try Checked.alignUp(reader.cursor.position, alignment)

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(infos.count)
        var expectedOffset = 0
        for info in infos {
            let elements = try Checked.elementCount(info.dims, tensor: info.name)
            guard info.dims[0] % info.type.blockSize == 0 else {
                throw FormatError(
                    .blockSizeMismatch,
                    "row length \(info.dims[0]) is not a multiple of \(info.type.name)'s block size \(info.type.blockSize)",
                    offset: info.at, tensor: info.name)
            }
            let size: Int
            do { size = try info.type.byteCount(elements: elements) } catch let error as FormatError {
                throw FormatError(error.code, error.message, offset: info.at, tensor: info.name)
            }
            guard info.offset == UInt64(expectedOffset) else {
                throw FormatError(
                    .offsetMismatch,
                    "offset \(info.offset) should be \(expectedOffset) (the padded sizes of the tensors before it)",
                    offset: info.at, tensor: info.name)
            }
            let end = try Checked.add(
                try Checked.add(dataStart, expectedOffset, "tensor end"), size, "tensor end", tensor: info.name)
            guard end <= bytes.count else {
                throw FormatError(
                    .dataOutOfBounds, "data ends at byte \(end), past the end of the \(bytes.count)-byte file",
                    offset: info.at, tensor: info.name)
            }
            tensors.append(
                GGUFTensorInfo(name: info.name, dims: info.dims, type: info.type, offset: expectedOffset, byteCount: size))
            expectedOffset = try Checked.alignUp(try Checked.add(expectedOffset, size, "data size"), alignment)
        }
        if !tensors.isEmpty && dataStart > bytes.count {
            throw FormatError(.dataOutOfBounds, "data section starts past the end of the file", offset: dataStart)
        }
        return GGUFHeader(version: version, metadata: metadata, tensors: tensors, alignment: alignment, dataStart: dataStart)
    }

    /// `general.alignment` if present (a power-of-two UINT32), else 32.
    static func alignment(in metadata: [GGUFKeyValue]) throws -> Int {
        guard let entry = metadata.first(where: { $0.key == "general.alignment" }) else { return defaultAlignment }
        guard case .uint32(let value) = entry.value, value > 0, value & (value - 1) == 0 else {
            throw FormatError(.invalidAlignment, "general.alignment must be a UINT32 power of two, found \(entry.value)")
        }
        return Int(value)
    }
}

/// Reads typed metadata values, checking every count against the remaining bytes first.
struct ValueReader {
    var cursor: ByteCursor
    let limits: GGUFLimits

    mutating func readString(_ what: String) throws -> String {
        let at = cursor.position
        let length = try cursor.readU64("\(what) length")
        guard length <= UInt64(limits.maxStringBytes) else {
            throw FormatError(.limitExceeded, "\(what) claims \(length) bytes (limit \(limits.maxStringBytes))", offset: at)
        }
        let bytes = try cursor.readBytes(Int(length), what)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FormatError(.invalidUTF8, "\(what) is not valid UTF-8", offset: at + 8)
        }
        return text
    }

    mutating func readType(_ what: String) throws -> GGUFValueType {
        let at = cursor.position
        let raw = try cursor.readU32(what)
        guard let type = GGUFValueType(rawValue: raw) else {
            throw FormatError(.unknownValueType, "\(what) \(raw) is not a GGUF value type (0-12)", offset: at)
        }
        return type
    }

    mutating func readValue(key: String) throws -> GGUFValue {
        let type = try readType("value type of '\(key)'")
        switch type {
        case .array: return .array(try readArray(key: key))
        case .string: return .string(try readString("string value of '\(key)'"))
        default: return try readScalar(type, key: key)
        }
    }

    mutating func readScalar(_ type: GGUFValueType, key: String) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.readInteger(UInt8.self, key))
        case .int8: return .int8(try cursor.readInteger(Int8.self, key))
        case .uint16: return .uint16(try cursor.readInteger(UInt16.self, key))
        case .int16: return .int16(try cursor.readInteger(Int16.self, key))
        case .uint32: return .uint32(try cursor.readInteger(UInt32.self, key))
        case .int32: return .int32(try cursor.readInteger(Int32.self, key))
        case .uint64: return .uint64(try cursor.readInteger(UInt64.self, key))
        case .int64: return .int64(try cursor.readInteger(Int64.self, key))
        case .float32: return .float32(Float(bitPattern: try cursor.readU32(key)))
        case .float64: return .float64(Double(bitPattern: try cursor.readU64(key)))
        case .bool: return .bool(try readBool(key))
        case .string, .array: throw FormatError(.unknownValueType, "'\(key)' is not a scalar")
        }
    }

    mutating func readBool(_ key: String) throws -> Bool {
        let at = cursor.position
        let byte = try cursor.readU8(key)
        guard byte <= 1 else { throw FormatError(.invalidValue, "bool '\(key)' holds \(byte); it must be 0 or 1", offset: at) }
        return byte == 1
    }

    mutating func readArray(key: String) throws -> GGUFArray {
        let at = cursor.position
        let elementType = try readType("array element type of '\(key)'")
        guard elementType != .array else {
            throw FormatError(.nestedArray, "'\(key)' is an array of arrays, which GGUF does not allow", offset: at)
        }
        let count = try cursor.readU64("array length of '\(key)'")
        guard count <= UInt64(limits.maxArrayCount) else {
            throw FormatError(
                .limitExceeded, "array '\(key)' claims \(count) elements (limit \(limits.maxArrayCount))", offset: at + 4)
        }
        let n = Int(count)
        // Strings take at least their 8-byte length each.
        try cursor.require(n * (elementType.fixedSize ?? 8), "array '\(key)' of \(n) elements")
        switch elementType {
        case .uint8: return .uint8(try readIntegers(n, key))
        case .int8: return .int8(try readIntegers(n, key))
        case .uint16: return .uint16(try readIntegers(n, key))
        case .int16: return .int16(try readIntegers(n, key))
        case .uint32: return .uint32(try readIntegers(n, key))
        case .int32: return .int32(try readIntegers(n, key))
        case .uint64: return .uint64(try readIntegers(n, key))
        case .int64: return .int64(try readIntegers(n, key))
        case .float32: return .float32(try readIntegers(n, key))
        case .float64: return .float64(try readIntegers(n, key))
        case .bool: return .bool(try (0..<n).map { _ in try readBool(key) })
        case .string: return .string(try (0..<n).map { _ in try readString("string in array '\(key)'") })
        case .array: throw FormatError(.nestedArray, "'\(key)' is an array of arrays", offset: at)
        }
    }

    mutating func readIntegers<T: FixedWidthInteger>(_ count: Int, _ key: String) throws -> [T] {
        let raw = try cursor.readBytes(count * MemoryLayout<T>.size, key)
        return (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
    }
}
