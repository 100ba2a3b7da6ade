import Foundation
import Int8Kernels
import ModelArchitectures
import ModelFormats

/// One tensor of the input model.
public struct SourceTensor: Sendable {
    public enum Storage: Sendable, Equatable {
        case safetensors(DType)
        case gguf(GGMLType)
        /// F32 values computed from the model's configuration (a converter's extra tensors).
        case generated([Float])
    }

    public internal(set) var name: String
    /// numpy order (slowest dimension first).
    public let shape: [Int]
    public let storage: Storage
    /// Absolute byte range in the file.
    public let byteRange: Range<Int>
    /// Which file of a sharded checkpoint holds it (0 for single files).
    public var shard = 0
    /// The name in the input, when a conversion renamed it (Hugging Face -> llama.cpp).
    public internal(set) var sourceName: String? = nil
    /// Rows read regrouped per head, with this many heads (llama.cpp's rotary layout).
    public internal(set) var permuteHeads: Int? = nil
    /// The conversion stores it as F32 whatever the recipe (norms, biases, 1-D tensors).
    public internal(set) var keepF32 = false
    /// Factors applied as values are read (AWQ's folded scales).
    public internal(set) var scaling: ElementScaling? = nil

    init(name: String, shape: [Int], storage: Storage, byteRange: Range<Int>, shard: Int = 0) {
        self.name = name
        self.shape = shape
        self.storage = storage
        self.byteRange = byteRange
        self.shard = shard
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The dtype to decode to fp32 from, when the tensor holds floats we can quantize.
    public var floatDType: DType? {
        switch storage {
        case .safetensors(let dtype): return dtype.isFloatingPoint ? dtype : nil
        case .generated: return .f32
        case .gguf(let type): return type.sameElementsDType.flatMap { $0.isFloatingPoint ? $0 : nil }
        }
    }

    /// "F32", "BF16", "Q4_0", ...: the input dtype as its format names it.
    public var dtypeName: String {
        switch storage {
        case .safetensors(let dtype): dtype.rawValue
        case .gguf(let type): type.name
        case .generated: "F32"
        }
    }
}

/// Factors a tensor's values are multiplied by as they are read: each value times its column's
/// factor and divided by its row's (a 1-D tensor's elements are its rows). AWQ folds its scales
/// this way: the weights that read a scaled input channel take the factor, the norm or linear
/// layer that produces the channel gives it back.
public struct ElementScaling: Sendable, Equatable {
    public var columns: [Float]?
    public var rows: [Float]?

    func apply(to values: UnsafeMutableBufferPointer<Float>, elements: Range<Int>, shape: [Int]) {
        let rowCount = Swift.max(shape.first ?? 1, 1)
        let cols = Swift.max(1, shape.reduce(1, *) / rowCount)
        for (index, element) in elements.enumerated() {
            var value = values[index]
            if let columns { value *= columns[element % cols] }
            if let rows { value /= rows[element / cols] }
            values[index] = value
        }
    }
}

/// The input model, memory-mapped: tensors are decoded to fp32 a range of elements at a time and
/// their pages released afterwards, so resident memory does not grow with the model.
public final class SourceModel: Sendable {
    /// The model file, or a checkpoint's first shard (for its format and metadata).
    public let model: ModelFile
    /// One mapping per file: a single model file, or each shard of a checkpoint.
    public let mappings: [MappedFile]
    public let tensors: [SourceTensor]
    /// The checkpoint directory, when the model is one (config.json, tokenizer, shards).
    public let checkpoint: Checkpoint?

    /// Opens a model file, or a Hugging Face checkpoint directory as one model across its shards.
    public init(path: String) throws {
        if Checkpoint.isCheckpoint(path: path) {
            let checkpoint = try Checkpoint(directory: path)
            self.checkpoint = checkpoint
            model = .safetensors(checkpoint.shards[0])
            mappings = checkpoint.shards.map(\.mapping)
            tensors = checkpoint.shards.enumerated().flatMap { shard, file in
                Self.tensors(of: file, shard: shard)
            }
            return
        }
        checkpoint = nil
        model = try ModelFile.open(path: path)
        switch model {
        case .safetensors(let file):
            mappings = [file.mapping]
            tensors = Self.tensors(of: file, shard: 0)
        case .gguf(let file):
            mappings = [file.mapping]
            tensors = file.tensors.map { info in
                let start = file.header.dataStart + info.offset
                return SourceTensor(
                    name: info.name, shape: info.shape, storage: .gguf(info.type), byteRange: start..<(start + info.byteCount))
            }
        }
    }

    static func tensors(of file: SafetensorsFile, shard: Int) -> [SourceTensor] {
        file.tensors.map { info in
            let start = file.header.dataStart + info.dataRange.lowerBound
            return SourceTensor(
                name: info.name, shape: info.shape, storage: .safetensors(info.dtype),
                byteRange: start..<(start + info.byteCount), shard: shard)
        }
    }

    /// Bytes of every input file.
    public var fileBytes: Int { mappings.reduce(0) { $0 + $1.bytes.count } }

    /// The mapping that holds a tensor.
    public func mapping(of tensor: SourceTensor) -> MappedFile { mappings[tensor.shard] }

    /// The tensors as a GGUF conversion names and lays them out (Hugging Face checkpoint -> llama.cpp).
    public func tensors(convertedBy conversion: GGUFConversion) -> [SourceTensor] {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return conversion.tensors.compactMap { converted in
            var tensor: SourceTensor
            switch converted.origin {
            case .checkpoint(let original):
                guard let found = byName[original] else { return nil }
                tensor = found
                tensor.sourceName = original
            case .generated(let values):
                tensor = SourceTensor(name: converted.name, shape: [values.count], storage: .generated(values), byteRange: 0..<0)
            }
            tensor.name = converted.name
            tensor.permuteHeads = converted.permuteHeads
            tensor.keepF32 = converted.keepF32
            return tensor
        }
    }

    public var format: ModelFormat { model.format }

    public func bytes(of tensor: SourceTensor) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping(of: tensor).bytes[tensor.byteRange])
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
    public func read(_ tensor: SourceTensor, _ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>, kernels: Kernels)
        throws
    {
        try readUnscaled(tensor, range, into: out, kernels: kernels)
        if let scaling = tensor.scaling {
            scaling.apply(to: UnsafeMutableBufferPointer(rebasing: out[0..<range.count]), elements: range, shape: tensor.shape)
        }
    }

    private func readUnscaled(
        _ tensor: SourceTensor, _ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>, kernels: Kernels
    ) throws {
        guard out.count >= range.count else {
            throw PipelineError.unsupported(tensor.name, "internal: \(range.count) values read into a buffer of \(out.count)")
        }
        if case .generated(let values) = tensor.storage {
            for (index, element) in range.enumerated() { out[index] = values[element] }
            return
        }
        guard let heads = tensor.permuteHeads else { return try readStored(tensor, range, into: out, kernels: kernels) }
        // Row by row: output row r holds the stored row the per-head regrouping puts there.
        let rows = tensor.shape.first ?? 1
        let cols = Swift.max(1, tensor.elementCount / Swift.max(rows, 1))
        var position = range.lowerBound
        while position < range.upperBound {
            let row = position / cols
            let column = position % cols
            let end = Swift.min(range.upperBound, (row + 1) * cols)
            let first = Self.storedRow(row, rows: rows, heads: heads) * cols + column
            try readStored(
                tensor, first..<(first + end - position),
                into: UnsafeMutableBufferPointer(rebasing: out[(position - range.lowerBound)...]), kernels: kernels)
            position = end
        }
    }

    /// convert_hf_to_gguf.py's permute: rows viewed as (heads, 2, half) are written as (heads, half,
    /// 2), so output row (h, i, j) is stored row (h, j, i).
    static func storedRow(_ row: Int, rows: Int, heads: Int) -> Int {
        let group = rows / heads
        let half = group / 2
        let head = row / group
        let within = row % group
        return head * group + (within % 2) * half + within / 2
    }

    /// Decodes stored elements `range` (in file order).
    private func readStored(
        _ tensor: SourceTensor, _ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>, kernels: Kernels
    ) throws {
        guard let dtype = tensor.floatDType else {
            throw PipelineError.unsupported(tensor.name, "\(tensor.dtypeName) tensors hold no floats to quantize")
        }
        let width = dtype.bitWidth / 8
        if dtype == .f32 {
            let first = tensor.byteRange.lowerBound + range.lowerBound * width
            return try mapping(of: tensor).read(
                first..<(first + range.count * width),
                into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[0..<(range.count * width)]))
        }
        let bytes = bytes(of: tensor)
        let target = UnsafeMutableBufferPointer(rebasing: out[0..<range.count])
        switch dtype {
        case .f16, .bf16, .f8E4M3, .f8E5M2:
            let format: Kernels.SourceFormat = [.f16: .fp16, .bf16: .bf16, .f8E4M3: .fp8E4M3, .f8E5M2: .fp8E5M2][dtype]!
            try kernels.convertToFloat(
                format, UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound * width)..<(range.upperBound * width)]),
                into: target)
        default:
            try FloatCodec.toFloat32(dtype, bytes: bytes, first: range.lowerBound, into: target)
        }
    }

    /// Reads elements `part` of a chunk that starts at element `chunkStart` into its place in
    /// `buffer` (the whole chunk's), and returns that place: each worker reads its own rows.
    func read(
        _ tensor: SourceTensor, chunkStart: Int, part: Range<Int>, into buffer: UncheckedBox<UnsafeMutableBufferPointer<Float>>,
        kernels: Kernels
    ) throws -> UnsafeBufferPointer<Float> {
        let place = UnsafeMutableBufferPointer(rebasing: buffer.value[part])
        try read(tensor, (chunkStart + part.lowerBound)..<(chunkStart + part.upperBound), into: place, kernels: kernels)
        return UnsafeBufferPointer(place)
    }

    /// Lets the kernel drop the pages behind elements `range` of a tensor (as read by `read` or
    /// `floats`) from our resident set. F32 is read with pread, so there is nothing to drop.
    public func release(_ tensor: SourceTensor, elements range: Range<Int>) {
        if tensor.floatDType == .f32 { return }  // read with pread (generated tensors live in memory)
        guard let heads = tensor.permuteHeads else { return releaseStored(tensor, range) }
        // Regrouped rows come from anywhere in their head's rows: release the heads this range finishes.
        let rows = Swift.max(tensor.shape.first ?? 1, 1)
        let cols = Swift.max(1, tensor.elementCount / rows)
        let group = Swift.max(rows / heads, 1) * cols
        let firstDone = (range.lowerBound / group) * group
        let lastDone = (range.upperBound / group) * group
        if lastDone > firstDone { releaseStored(tensor, firstDone..<lastDone) }
    }

    private func releaseStored(_ tensor: SourceTensor, _ range: Range<Int>) {
        let bits = tensor.floatDType?.bitWidth ?? 8
        let start = tensor.byteRange.lowerBound + range.lowerBound * bits / 8
        let end = Swift.min(tensor.byteRange.upperBound, tensor.byteRange.lowerBound + (range.upperBound * bits + 7) / 8)
        if start < end { mapping(of: tensor).release(start..<end) }
    }
}

/// Pipeline failures: each names the tensor and says what to change.
public enum PipelineError: Error, Equatable, CustomStringConvertible, Sendable {
    case unsupported(String, String)
    case nonFinite(String, Int)
    case cancelled
    case output(String)
    /// The output does not fit: the disk, the quota or the file size limit is full.
    case noSpace(String)
    /// The checkpoint cannot become the requested format (an architecture or tokenizer not converted).
    case conversion(String)

    public var description: String {
        switch self {
        case .unsupported(let tensor, let message): "tensor '\(tensor)': \(message)"
        case .nonFinite(let tensor, let count):
            "tensor '\(tensor)' holds \(count) NaN or Inf values; fix the model, list the tensor in \"ignore\", or set \"nonfinite\": \"keep\""
        case .cancelled: "cancelled"
        case .output(let message), .noSpace(let message): message
        case .conversion(let message): message
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
