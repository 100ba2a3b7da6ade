/// The two model file formats, detected from content (not from the file name).
public enum ModelFormat: String, Sendable {
    case safetensors
    case gguf
}

/// A format-independent summary of one tensor, for inspection and reports.
public struct TensorSummary: Sendable, Equatable {
    public let name: String
    /// safetensors dtype name or ggml type name.
    public let dtype: String
    /// numpy order (slowest dimension first).
    public let shape: [Int]
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// An opened, validated model file of either format.
public enum ModelFile: Sendable {
    case safetensors(SafetensorsFile)
    case gguf(GGUFFile)

    /// Detects the format from the first bytes (`GGUF` magic, otherwise safetensors) and validates.
    /// A `.gguf` file without the magic is reported as a GGUF error, which is what its user expects.
    public static func open(path: String) throws -> ModelFile {
        let mapping = try MappedFile(path: path)
        let hasMagic = mapping.bytes.count >= 4 && Array(mapping.bytes[0..<4]) == GGUFHeader.magic
        if hasMagic || path.lowercased().hasSuffix(".gguf") {
            return .gguf(try GGUFFile(path: path))
        }
        return .safetensors(try SafetensorsFile(path: path))
    }

    public var format: ModelFormat {
        switch self {
        case .safetensors: .safetensors
        case .gguf: .gguf
        }
    }

    public var tensors: [TensorSummary] {
        switch self {
        case .safetensors(let file):
            file.tensors.map { TensorSummary(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, byteCount: $0.byteCount) }
        case .gguf(let file):
            file.tensors.map { TensorSummary(name: $0.name, dtype: $0.type.name, shape: $0.shape, byteCount: $0.byteCount) }
        }
    }

    public var fileSize: Int {
        switch self {
        case .safetensors(let file): file.fileSize
        case .gguf(let file): file.fileSize
        }
    }
}
