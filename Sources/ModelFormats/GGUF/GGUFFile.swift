/// A GGUF file opened for reading: header validated up front, tensor data memory-mapped.
public final class GGUFFile: Sendable {
    public let header: GGUFHeader
    public let mapping: MappedFile

    public var path: String { mapping.path }
    public var tensors: [GGUFTensorInfo] { header.tensors }
    public var metadata: [GGUFKeyValue] { header.metadata }
    public var fileSize: Int { mapping.bytes.count }

    public init(path: String, limits: GGUFLimits = .default) throws {
        mapping = try MappedFile(path: path)
        header = try GGUFHeader.parse(mapping.bytes, limits: limits)
    }

    /// The raw bytes of a tensor (ggml block layout). Valid while this file object is alive.
    public func bytes(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = header.dataStart + info.offset
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + info.byteCount)])
    }

    public func tensorInfo(named name: String) throws -> GGUFTensorInfo {
        guard let info = header.tensors.first(where: { $0.name == name }) else {
            throw FormatError(.invalidName, "no tensor named '\(name)' in \(path)", tensor: name)
        }
        return info
    }
}
