import JSON

/// One tensor as described by a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data buffer.
    public let dataRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { dataRange.count }
}

/// A validated safetensors header: tensors in data order (sorted by offset) and metadata in header
/// order. Construction applies every rule of docs/INPUT-FORMATS.md, in the reference reader's order.
public struct SafetensorsHeader: Sendable, Equatable {
    public let tensors: [SafetensorsTensorInfo]
    public let metadata: [(key: String, value: String)]
    /// N: the header length stored in the first 8 bytes (padding included).
    public let headerByteCount: Int
    /// Absolute file offset where the data buffer starts (8 + N).
    public var dataStart: Int { 8 + headerByteCount }
    /// Size of the data buffer in bytes.
    public var dataByteCount: Int { tensors.last?.dataRange.upperBound ?? 0 }

    public func tensor(named name: String) -> SafetensorsTensorInfo? { tensors.first { $0.name == name } }

    public static func == (lhs: SafetensorsHeader, rhs: SafetensorsHeader) -> Bool {
        lhs.tensors == rhs.tensors && lhs.headerByteCount == rhs.headerByteCount
            && lhs.metadata.map(\.key) == rhs.metadata.map(\.key) && lhs.metadata.map(\.value) == rhs.metadata.map(\.value)
    }

    /// Parses and validates the header of a complete file held in `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: SafetensorsLimits = .default) throws -> SafetensorsHeader {
        guard bytes.count >= 8 else {
            throw FormatError(.fileTooSmall, "file is \(bytes.count) bytes; a safetensors file needs at least 8", offset: 0)
        }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(limits.maxHeaderBytes) else {
            throw FormatError(
                .headerTooLarge, "header length \(declared) exceeds the limit of \(limits.maxHeaderBytes) bytes", offset: 0)
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= bytes.count else {
            throw FormatError(
                .headerOutOfBounds, "header length \(headerLength) runs past the end of the \(bytes.count)-byte file",
                offset: 0)
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw FormatError(.invalidUTF8, "header is not valid UTF-8", offset: 8)
        }
        let json: JSONValue
        do {
            json = try StrictJSON.parse(headerBytes)
        } catch let error as JSONError {
            throw FormatError(error, what: "header", at: 8)
        }
        guard let object = json.objectValue else {
            throw FormatError(.invalidHeader, "header must be a JSON object, found \(json.typeName)", offset: 8)
        }

        var metadata: [(key: String, value: String)] = []
        var tensors: [SafetensorsTensorInfo] = []
        for (name, value) in object.entries {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, limits: limits)
                continue
            }
            guard tensors.count < limits.maxTensorCount else {
                throw FormatError(.limitExceeded, "more than \(limits.maxTensorCount) tensors in one file", offset: 8)
            }
            tensors.append(try parseTensor(name: name, value, limits: limits))
        }
        tensors.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }
        try validateLayout(tensors, fileSize: bytes.count, dataStart: 8 + headerLength)
        return SafetensorsHeader(tensors: tensors, metadata: metadata, headerByteCount: headerLength)
    }

    static func parseMetadata(_ value: JSONValue, limits: SafetensorsLimits) throws -> [(key: String, value: String)] {
        guard let object = value.objectValue else {
            throw FormatError(.invalidMetadata, "__metadata__ must be an object of strings, found \(value.typeName)")
        }
        guard object.count <= limits.maxMetadataEntries else {
            throw FormatError(.limitExceeded, "__metadata__ has more than \(limits.maxMetadataEntries) entries")
        }
        return try object.entries.map { entry in
            guard let text = entry.value.stringValue else {
                throw FormatError(
                    .invalidMetadata, "__metadata__ entry '\(entry.key)' must be a string, found \(entry.value.typeName)")
            }
            return (entry.key, text)
        }
    }

    static func parseTensor(name: String, _ value: JSONValue, limits: SafetensorsLimits) throws -> SafetensorsTensorInfo {
        guard name.utf8.count <= limits.maxNameBytes else {
            throw FormatError(
                .limitExceeded, "tensor name is longer than \(limits.maxNameBytes) bytes", tensor: String(name.prefix(64)))
        }
        guard let fields = value.objectValue else {
            throw FormatError(.invalidHeader, "entry must be an object, found \(value.typeName)", tensor: name)
        }
        for key in fields.keys where !["dtype", "shape", "data_offsets"].contains(key) {
            throw FormatError(.invalidHeader, "unknown field '\(key)' (allowed: dtype, shape, data_offsets)", tensor: name)
        }
        guard let dtypeName = fields["dtype"]?.stringValue else {
            throw FormatError(.invalidHeader, "'dtype' must be a string", tensor: name)
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw FormatError(
                .unknownDType,
                "unknown dtype '\(dtypeName)' (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))",
                tensor: name)
        }
        guard let shapeValues = fields["shape"]?.arrayValue else {
            throw FormatError(.invalidHeader, "'shape' must be an array of non-negative integers", tensor: name)
        }
        guard shapeValues.count <= limits.maxRank else {
            throw FormatError(.limitExceeded, "rank \(shapeValues.count) exceeds the limit of \(limits.maxRank)", tensor: name)
        }
        let shape = try shapeValues.map { dim -> Int in
            guard let value = dim.uint64Value else {
                throw FormatError(.invalidHeader, "'shape' must be an array of non-negative integers", tensor: name)
            }
            return try Checked.int(value, "dimension", tensor: name)
        }
        guard let offsets = fields["data_offsets"]?.arrayValue, offsets.count == 2,
            let begin = offsets[0].uint64Value, let end = offsets[1].uint64Value
        else {
            throw FormatError(.invalidHeader, "'data_offsets' must be [begin, end] with non-negative integers", tensor: name)
        }
        let beginOffset = try Checked.int(begin, "data offset", tensor: name)
        let endOffset = try Checked.int(end, "data offset", tensor: name)
        guard endOffset >= beginOffset else {
            throw FormatError(.invalidOffsets, "data_offsets end \(endOffset) is before begin \(beginOffset)", tensor: name)
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: beginOffset..<endOffset)
    }

    /// Tensors must tile the buffer from 0 with no gap or overlap, each must be exactly as large as
    /// its shape says, and the buffer must end exactly at the end of the file.
    static func validateLayout(_ tensors: [SafetensorsTensorInfo], fileSize: Int, dataStart: Int) throws {
        var expectedBegin = 0
        for tensor in tensors {
            guard tensor.dataRange.lowerBound == expectedBegin else {
                let problem = tensor.dataRange.lowerBound < expectedBegin ? "overlaps the previous tensor" : "leaves a gap"
                throw FormatError(
                    .invalidOffsets,
                    "data_offsets begin \(tensor.dataRange.lowerBound) \(problem) (expected \(expectedBegin))",
                    offset: dataStart + tensor.dataRange.lowerBound, tensor: tensor.name)
            }
            let elements = try Checked.elementCount(tensor.shape, tensor: tensor.name)
            let size = try tensor.dtype.byteCount(elements: elements, tensor: tensor.name)
            guard size == tensor.dataRange.count else {
                throw FormatError(
                    .sizeMismatch,
                    "shape \(tensor.shape) of \(tensor.dtype.rawValue) needs \(size) bytes but data_offsets span \(tensor.dataRange.count)",
                    tensor: tensor.name)
            }
            expectedBegin = tensor.dataRange.upperBound
        }
        let end = try Checked.add(dataStart, expectedBegin, "end of data")
        if end > fileSize {
            throw FormatError(
                .dataOutOfBounds, "tensor data ends at byte \(end) but the file has only \(fileSize) bytes",
                offset: fileSize, tensor: tensors.last?.name)
        }
        if end < fileSize {
            throw FormatError(
                .trailingBytes, "\(fileSize - end) bytes follow the last tensor; the file must end where the data ends",
                offset: end)
        }
    }
}
