/// A tensor to be written to GGUF: name, ggml-order dims and type.
public struct GGUFTensorSpec: Sendable, Equatable {
    public let name: String
    public let dims: [Int]
    public let type: GGMLType

    public init(name: String, dims: [Int], type: GGMLType) {
        self.name = name
        self.dims = dims
        self.type = type
    }

    /// From a numpy/safetensors shape (slowest dimension first).
    public init(name: String, shape: [Int], type: GGMLType) {
        self.init(name: name, dims: shape.reversed(), type: type)
    }
}

/// Writes a GGUF file in one pass: header, metadata and tensor infos with precomputed offsets, then
/// each tensor's bytes as the caller produces them, each padded with zeros to the alignment (the
/// last one too, as the reference writer does). A file read by `GGUFFile` and written back through
/// this writer with the same metadata, tensors and data is byte-identical.
public final class GGUFWriter {
    public let tensors: [GGUFTensorSpec]
    private var stream: TensorByteStream

    public init(
        path: String, metadata: [GGUFKeyValue], tensors: [GGUFTensorSpec], version: UInt32 = 3,
        limits: GGUFLimits = .default, hashing: Bool = false
    ) throws {
        guard version == 2 || version == 3 else {
            throw FormatError(.unsupportedVersion, "can write GGUF version 2 or 3, not \(version)")
        }
        self.tensors = tensors
        let alignment = try GGUFHeader.alignment(in: metadata)
        var out = HeaderBuffer()
        out.bytes += GGUFHeader.magic
        out.append(version)
        out.append(UInt64(tensors.count))
        out.append(UInt64(metadata.count))
        var keys = Set<String>()
        for entry in metadata {
            guard !entry.key.isEmpty else { throw FormatError(.emptyKey, "metadata key is empty") }
            guard keys.insert(entry.key).inserted else {
                throw FormatError(.duplicateKey, "metadata key '\(entry.key)' given twice")
            }
            out.append(string: entry.key)
            out.append(entry.value.type.rawValue)
            out.append(value: entry.value)
        }
        var names = Set<String>()
        var sizes: [Int] = []
        var offset = 0
        for spec in tensors {
            guard spec.name.utf8.count <= limits.maxNameBytes else {
                throw FormatError(
                    .invalidName, "tensor name is \(spec.name.utf8.count) bytes; GGUF allows at most \(limits.maxNameBytes)",
                    tensor: spec.name)
            }
            guard names.insert(spec.name).inserted else {
                throw FormatError(.duplicateName, "tensor name given twice", tensor: spec.name)
            }
            guard (1...4).contains(spec.dims.count), spec.dims.allSatisfy({ $0 >= 0 }) else {
                throw FormatError(.invalidDims, "GGUF tensors have 1 to 4 non-negative dims, got \(spec.dims)", tensor: spec.name)
            }
            guard spec.dims[0] % spec.type.blockSize == 0 else {
                throw FormatError(
                    .blockSizeMismatch,
                    "row length \(spec.dims[0]) is not a multiple of \(spec.type.name)'s block size \(spec.type.blockSize)",
                    tensor: spec.name)
            }
            let size = try spec.type.byteCount(elements: Checked.elementCount(spec.dims, tensor: spec.name))
            out.append(string: spec.name)
            out.append(UInt32(spec.dims.count))
            for dim in spec.dims { out.append(UInt64(dim)) }
            out.append(spec.type.id)
            out.append(UInt64(offset))
            sizes.append(size)
            offset = try Checked.alignUp(Checked.add(offset, size, "data size"), alignment)
        }
        out.bytes += [UInt8](repeating: 0, count: try Checked.alignUp(out.bytes.count, alignment) - out.bytes.count)
        let sink = try FileSink(path: path, hashing: hashing)
        stream = TensorByteStream(sink: sink, names: tensors.map(\.name), sizes: sizes, alignment: alignment)
        try sink.write(out.bytes)
        try stream.advance()
    }

    /// Appends tensor data; chunks may span tensors. Padding between tensors is added here.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try stream.write(bytes)
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Checks that every tensor received exactly its bytes, then flushes and closes the file.
    public func finish(sync: Bool = false) throws { try stream.finish(sync: sync) }

    /// The file's hex SHA-256 after `finish`, when the writer was made with `hashing`.
    public var sha256: String? { stream.sink.sha256 }
}

/// Little-endian serialization of header fields and metadata values.
struct HeaderBuffer {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func append(string: String) {
        append(UInt64(string.utf8.count))
        bytes += string.utf8
    }

    mutating func append(value: GGUFValue) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .float64(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): append(string: v)
        case .array(let array): append(array: array)
        }
    }

    mutating func append(array: GGUFArray) {
        append(array.elementType.rawValue)
        append(UInt64(array.count))
        switch array {
        case .uint8(let v): for e in v { append(e) }
        case .int8(let v): for e in v { append(e) }
        case .uint16(let v): for e in v { append(e) }
        case .int16(let v): for e in v { append(e) }
        case .uint32(let v): for e in v { append(e) }
        case .int32(let v): for e in v { append(e) }
        case .uint64(let v): for e in v { append(e) }
        case .int64(let v): for e in v { append(e) }
        case .float32(let v): for e in v { append(e) }
        case .float64(let v): for e in v { append(e) }
        case .bool(let v): for e in v { append(UInt8(e ? 1 : 0)) }
        case .string(let v): for e in v { append(string: e) }
        }
    }
}
