import Int8Kernels
import ModelFormats

/// One tensor of the input model.
public struct SourceTensor: Sendable {
    public enum Storage: Sendable, Equatable {
        case safetensors(DType)
        case gguf(GGMLType)
    }

    public let name: String
    /// numpy order (slowest dimension first).
    public let shape: [Int]
    public let storage: Storage
    /// Absolute byte range in the file.
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }

    /// The dtype to decode to fp32 from, when the tensor holds floats we can quantize.
    public var floatDType: DType? {
        switch storage {
        case .safetensors(let dtype): return dtype.isFloatingPoint ? dtype : nil
        case .gguf(let type):
            switch type {
            case .f32: return .f32
            case .f16: return .f16
            case .bf16: return .bf16
            case .f64: return .f64
            default: return nil
            }
        }
    }

    /// "F32", "BF16", "Q4_0", ...: the input dtype as its format names it.
    public var dtypeName: String {
        switch storage {
        case .safetensors(let dtype): dtype.rawValue
        case .gguf(let type): type.name
        }
    }
}

/// The input model, memory-mapped: tensors are decoded to fp32 a range of elements at a time and
/// their pages released afterwards, so resident memory does not grow with the model.
public final class SourceModel: Sendable {
    public let model: ModelFile
    public let mapping: MappedFile
    public let tensors: [SourceTensor]

    public init(path: String) throws {
        model = try ModelFile.open(path: path)
        switch model {
        case .safetensors(let file):
            mapping = file.mapping
            tensors = file.tensors.map { info in
                let start = file.header.dataStart + info.dataRange.lowerBound
                return SourceTensor(name: info.name, shape: info.shape, storage: .safetensors(info.dtype), byteRange: start..<(start + info.byteCount))
            }
        case .gguf(let file):
            mapping = file.mapping
            tensors = file.tensors.map { info in
                let start = file.header.dataStart + info.offset
                return SourceTensor(name: info.name, shape: info.shape, storage: .gguf(info.type), byteRange: start..<(start + info.byteCount))
            }
        }
    }

    public var format: ModelFormat { model.format }

    public func bytes(of tensor: SourceTensor) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[tensor.byteRange])
    }

    /// Elements `range` of a float tensor as fp32 in `scratch` (valid until its next use).
    public func floats(
        of tensor: SourceTensor, _ range: Range<Int>, scratch: ScratchBuffer<Float>, kernels: Kernels
    ) throws -> UnsafeBufferPointer<Float> {
        let out = scratch.take(range.count)
        try read(tensor, range, into: out, kernels: kernels)
        return UnsafeBufferPointer(out)
    }

    /// Decodes elements `range` of a float tensor into `out` (at least `range.count` values). F32 is
    /// copied with pread, which maps nothing into this process, so nothing needs releasing after;
    /// other dtypes are decoded from the mapping. Safe to call from several threads at once for
    /// different ranges.
    public func read(_ tensor: SourceTensor, _ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>, kernels: Kernels) throws {
        guard let dtype = tensor.floatDType else {
            throw PipelineError.unsupported(tensor.name, "\(tensor.dtypeName) tensors hold no floats to quantize")
        }
        guard out.count >= range.count else {
            throw PipelineError.unsupported(tensor.name, "internal: \(range.count) values read into a buffer of \(out.count)")
        }
        let width = dtype.bitWidth / 8
        if dtype == .f32 {
            let first = tensor.byteRange.lowerBound + range.lowerBound * width
            return try mapping.read(first..<(first + range.count * width), into: UnsafeMutableRawBufferPointer(out))
        }
        let bytes = bytes(of: tensor)
        let target = UnsafeMutableBufferPointer(rebasing: out[0..<range.count])
        switch dtype {
        case .f16, .bf16, .f8E4M3, .f8E5M2:
            let format: Kernels.SourceFormat = [.f16: .fp16, .bf16: .bf16, .f8E4M3: .fp8E4M3, .f8E5M2: .fp8E5M2][dtype]!
            try kernels.convertToFloat(
                format, UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound * width)..<(range.upperBound * width)]), into: target)
        default:
            try FloatCodec.toFloat32(dtype, bytes: bytes, first: range.lowerBound, into: target)
        }
    }

    /// Reads elements `part` of a chunk that starts at element `chunkStart` into its place in
    /// `buffer` (the whole chunk's), and returns that place: each worker reads its own rows.
    func read(
        _ tensor: SourceTensor, chunkStart: Int, part: Range<Int>, into buffer: UncheckedBox<UnsafeMutableBufferPointer<Float>>, kernels: Kernels
    ) throws -> UnsafeBufferPointer<Float> {
        let place = UnsafeMutableBufferPointer(rebasing: buffer.value[part])
        try read(tensor, (chunkStart + part.lowerBound)..<(chunkStart + part.upperBound), into: place, kernels: kernels)
        return UnsafeBufferPointer(place)
    }

    /// Lets the kernel drop the pages behind elements `range` of a tensor (as read by `read` or
    /// `floats`) from our resident set. F32 is read with pread, so there is nothing to drop.
    public func release(_ tensor: SourceTensor, elements range: Range<Int>) {
        if tensor.floatDType == .f32 { return }
        let bits = tensor.floatDType?.bitWidth ?? 8
        let start = tensor.byteRange.lowerBound + range.lowerBound * bits / 8
        let end = Swift.min(tensor.byteRange.upperBound, tensor.byteRange.lowerBound + (range.upperBound * bits + 7) / 8)
        mapping.release(start..<end)
    }
}

/// Pipeline failures: each names the tensor and says what to change.
public enum PipelineError: Error, Equatable, CustomStringConvertible, Sendable {
    case unsupported(String, String)
    case nonFinite(String, Int)
    case cancelled
    case output(String)

    public var description: String {
        switch self {
        case .unsupported(let tensor, let message): "tensor '\(tensor)': \(message)"
        case .nonFinite(let tensor, let count):
            "tensor '\(tensor)' holds \(count) NaN or Inf values; fix the model, list the tensor in \"ignore\", or set \"nonfinite\": \"keep\""
        case .cancelled: "cancelled"
        case .output(let message): message
        }
    }
}

/// A reusable buffer that grows to the largest size asked of it: one per pipeline, so chunks do not
/// allocate.
public final class ScratchBuffer<T>: @unchecked Sendable {
    private var storage: UnsafeMutableBufferPointer<T>
    private let fill: T

    public init(fill: T) {
        self.fill = fill
        storage = UnsafeMutableBufferPointer<T>.allocate(capacity: 0)
    }

    /// A buffer of exactly `count` elements (contents unspecified).
    public func take(_ count: Int) -> UnsafeMutableBufferPointer<T> {
        if storage.count < count {
            storage.deallocate()
            storage = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
            storage.initialize(repeating: fill)
        }
        return UnsafeMutableBufferPointer(rebasing: storage[0..<count])
    }

    deinit { storage.deallocate() }
}
