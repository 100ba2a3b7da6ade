import JSON

/// What the writer needs to know about a tensor before any data is written.
public struct TensorSpec: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }
}

/// Writes a safetensors file in one pass: the header (with every offset computed up front) first,
/// then each tensor's bytes in the order of `tensors`, as the caller produces them. Only one I/O
/// buffer is held in memory, whatever the file size.
///
/// Usage: `init`, then `write` bytes (any chunking; tensors back to back), then `finish()`.
public final class SafetensorsWriter {
    public let tensors: [TensorSpec]
    private var stream: TensorByteStream

    public init(
        path: String, tensors: [TensorSpec], metadata: [(key: String, value: String)] = [],
        limits: SafetensorsLimits = .default, hashing: Bool = false
    ) throws {
        self.tensors = tensors
        var seen = Set<String>()
        var header = JSONObject()
        if !metadata.isEmpty {
            var meta = JSONObject()
            for (key, value) in metadata {
                guard meta.insertNew(key, .string(value)) else {
                    throw FormatError(.duplicateKey, "metadata key '\(key)' given twice")
                }
            }
            header["__metadata__"] = .object(meta)
        }
        var sizes: [Int] = []
        var offset = 0
        for spec in tensors {
            guard spec.name != "__metadata__" else {
                throw FormatError(.invalidName, "'__metadata__' is reserved and cannot name a tensor", tensor: spec.name)
            }
            guard seen.insert(spec.name).inserted else {
                throw FormatError(.duplicateName, "tensor name given twice", tensor: spec.name)
            }
            guard spec.name.utf8.count <= limits.maxNameBytes, spec.shape.count <= limits.maxRank,
                spec.shape.allSatisfy({ $0 >= 0 })
            else {
                throw FormatError(.limitExceeded, "name, rank or shape outside the documented limits", tensor: spec.name)
            }
            let size = try spec.dtype.byteCount(elements: Checked.elementCount(spec.shape, tensor: spec.name), tensor: spec.name)
            let end = try Checked.add(offset, size, "data size")
            header[spec.name] = .object(
                JSONObject([
                    ("dtype", .string(spec.dtype.rawValue)),
                    ("shape", .array(spec.shape.map { .integer($0) })),
                    ("data_offsets", .array([.integer(offset), .integer(end)])),
                ]))
            sizes.append(size)
            offset = end
        }
        guard tensors.count <= limits.maxTensorCount else {
            throw FormatError(.limitExceeded, "more than \(limits.maxTensorCount) tensors")
        }
        var json = Array(JSONValue.object(header).serialized.utf8)
        // Pad with spaces so the data buffer starts 8-byte aligned, as the reference writer does.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        let sink = try FileSink(path: path, hashing: hashing)
        stream = TensorByteStream(sink: sink, names: tensors.map(\.name), sizes: sizes)
        var prefix = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix = Array($0) }
        try sink.write(prefix)
        try sink.write(json)
        try stream.advance()
    }

    /// Appends bytes to the data stream. A chunk may span the end of one tensor and the start of the
    /// next; writing more than the declared sizes is an error.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try stream.write(bytes)
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Writes a whole array of fixed-width values (little-endian) for the current tensor.
    public func write<T: FixedWidthInteger>(values: [T]) throws {
        try values.map(\.littleEndian).withUnsafeBytes { try write($0) }
    }

    /// Index of the tensor the next byte belongs to (== tensors.count when all are complete).
    public var currentTensorIndex: Int { stream.current }

    /// Verifies that every tensor received exactly its bytes, then flushes and closes the file.
    public func finish(sync: Bool = false) throws { try stream.finish(sync: sync) }

    /// The file's hex SHA-256 after `finish`, when the writer was made with `hashing`.
    public var sha256: String? { stream.sink.sha256 }
}
