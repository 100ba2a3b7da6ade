/// A safetensors file opened for reading: the header is parsed and validated up front, tensor bytes
/// stay on disk (memory-mapped) until a caller touches them.
public final class SafetensorsFile: Sendable {
    public let header: SafetensorsHeader
    public let mapping: MappedFile

    public var path: String { mapping.path }
    public var tensors: [SafetensorsTensorInfo] { header.tensors }
    public var metadata: [(key: String, value: String)] { header.metadata }
    public var fileSize: Int { mapping.bytes.count }

    public init(path: String, limits: SafetensorsLimits = .default) throws {
        mapping = try MappedFile(path: path)
        header = try SafetensorsHeader.parse(mapping.bytes, limits: limits)
    }

    public func tensorInfo(named name: String) throws -> SafetensorsTensorInfo {
        guard let info = header.tensor(named: name) else {
            throw FormatError(.invalidName, "no tensor named '\(name)' in \(path)", tensor: name)
        }
        return info
    }

    /// The raw little-endian bytes of a tensor. Valid as long as this file object is alive.
    public func bytes(of info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        let start = header.dataStart + info.dataRange.lowerBound
        return UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + info.byteCount)])
    }

    /// A typed, lazy view of one tensor.
    public func tensor(named name: String) throws -> TensorView {
        let info = try tensorInfo(named: name)
        return TensorView(dtype: info.dtype, shape: info.shape, bytes: bytes(of: info), owner: self)
    }
}

/// Lazy typed access to one tensor's bytes inside a mapped file (or any buffer kept alive by
/// `owner`). Conversions to fp32 work on element ranges, so a large tensor can be streamed.
public struct TensorView: @unchecked Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the memory behind `bytes` alive.
    let owner: AnyObject?

    public var elementCount: Int { shape.reduce(1, *) }

    /// Decodes elements `range` into fp32.
    public func floats(_ range: Range<Int>, into output: UnsafeMutableBufferPointer<Float>) throws {
        guard range.count == output.count else {
            throw FormatError(.writerMisuse, "output holds \(output.count) floats, range has \(range.count)")
        }
        try FloatCodec.toFloat32(dtype, bytes: bytes, first: range.lowerBound, into: output)
    }

    /// The whole tensor as fp32. For large tensors prefer `floats(_:into:)` in chunks.
    public func floats() throws -> [Float] { try FloatCodec.toFloat32(dtype, bytes: bytes) }

    /// Reinterprets the bytes as a fixed-width integer type matching the dtype's width.
    public func integers<T: FixedWidthInteger>(as _: T.Type) throws -> [T] {
        guard dtype.bitWidth == T.bitWidth, !dtype.isFloatingPoint || T.self == UInt8.self || T.self == UInt16.self
        else {
            throw FormatError(.unknownDType, "\(dtype.rawValue) cannot be read as \(T.self)")
        }
        return (0..<elementCount).map { FloatCodec.load(T.self, bytes, $0) }
    }
}
