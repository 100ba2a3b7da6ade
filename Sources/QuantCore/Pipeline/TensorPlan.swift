import Int8Kernels
import ModelFormats

/// What the pipeline does with one input tensor, decided (and validated) before anything is written.
public struct TensorPlan: Sendable {
    public enum Action: Sendable {
        /// Bytes copied unchanged.
        case copy
        /// Linear codes plus scales (and zero points): safetensors only.
        case linear(LinearScheme, WeightSpec.ScaleDType)
        /// ggml blocks: GGUF only.
        case blocks(GGMLType)
        /// A float conversion (F16, BF16, F32) into either format.
        case float(DType)
        /// Binary (1 bit) or ternary (2 bits) codes with one scale per output channel.
        case sign(ternary: Bool)
        /// fp8 codes with an F32 scale per tensor or per output channel: safetensors only.
        case scaledFloat(FloatElement, perChannel: Bool)
        /// MX blocks: element codes and one E8M0 scale per 32 values of a row: safetensors only.
        case mx(MXElement)
        /// Codebook indices and F32 codebooks (per tensor or per output channel): safetensors only.
        case kmeans(bits: Int, perChannel: Bool)
        /// compressed-tensors `pack-quantized`: `W.weight_packed` (int32 words of offset codes),
        /// `W.weight_scale` and `W.weight_shape` for a 2-D `W.weight`.
        case compressedLinear(LinearScheme, WeightSpec.ScaleDType)
    }

    /// One tensor of the output.
    public struct Output: Sendable {
        public let name: String
        /// numpy order.
        public let shape: [Int]
        public let dtype: DType?
        public let ggmlType: GGMLType?
        public let byteCount: Int
    }

    public internal(set) var source: SourceTensor
    public let action: Action
    /// The tensors written for it, in order (static input scales last).
    public internal(set) var outputs: [Output]
    public let spec: WeightSpec?
    /// Static input quantization of the layer whose weight this is (`<layer>.input_scale`...).
    public internal(set) var inputQuantization: StaticActivation? = nil
    /// Why the tensor was kept as is, when a recipe asked otherwise (reported).
    public var note: String?

    /// Adds the layer's static input quantization: `<layer>.input_scale` (F32 [1]) and, when
    /// asymmetric, `<layer>.input_zero_point` (I8 [1]), written after the weight's own tensors.
    mutating func addInputQuantization(_ input: StaticActivation, layer: String, symmetric: Bool) {
        inputQuantization = input
        outputs.append(Output(name: layer + ".input_scale", shape: [1], dtype: .f32, ggmlType: nil, byteCount: 4))
        if !symmetric {
            outputs.append(Output(name: layer + ".input_zero_point", shape: [1], dtype: .i8, ggmlType: nil, byteCount: 1))
        }
    }

    /// The rows x cols view the kernels work on: rows of the last dimension.
    var rowsView: (rows: Int, cols: Int) {
        guard let last = source.shape.last else { return (1, 1) }
        return (last == 0 ? 0 : source.elementCount / last, last)
    }

    public static func make(
        _ tensor: SourceTensor, recipe: Recipe, output: Recipe.OutputFormat, keep note: String? = nil
    ) throws -> TensorPlan {
        let quantize =
            note == nil
            && recipe.quantizes(name: tensor.name, isFloatingPoint: tensor.floatDType != nil, rank: tensor.shape.count)
        if output == .gguf {
            guard tensor.name.utf8.count < 64 else {
                throw PipelineError.unsupported(
                    tensor.name,
                    "GGUF names must be under 64 bytes (this one is \(tensor.name.utf8.count)); GGUF cannot store it, write safetensors instead"
                )
            }
            guard tensor.shape.count <= 4 else {
                throw PipelineError.unsupported(
                    tensor.name, "GGUF tensors have at most 4 dimensions, this one has \(tensor.shape.count)")
            }
        }
        // A conversion's F32 tensors (norms, biases, computed factors) are F32 whatever the recipe.
        if tensor.keepF32 { return floatPlan(tensor, .f32, output: output, note: note) }
        guard quantize else { return try copyPlan(tensor, output: output, note: note) }
        let spec = recipe.weights(for: tensor.name)
        switch spec {
        case .kmeans(let kmeans):
            guard output.isSafetensors else {
                throw PipelineError.unsupported(
                    tensor.name, "method 'kmeans' writes safetensors; set output.format to safetensors")
            }
            let bits = kmeans.bits
            guard !kmeans.perChannel || tensor.shape.count >= 2 else {
                throw PipelineError.unsupported(
                    tensor.name, "channel codebooks need a rank of 2 or more; use granularity 'tensor' for it (an override)")
            }
            let last = Swift.max(tensor.shape.last ?? 1, 1)
            let rows = tensor.elementCount / last
            let stride = bits == 8 ? last : Kernels.packedRowBytes(cols: last, bits: bits)
            let codebookShape = kmeans.perChannel ? [tensor.shape[0], 1 << bits] : [1 << bits]
            return TensorPlan(
                source: tensor, action: .kmeans(bits: bits, perChannel: kmeans.perChannel),
                outputs: [
                    Output(
                        name: tensor.name, shape: Array(tensor.shape.dropLast()) + [stride], dtype: .u8, ggmlType: nil,
                        byteCount: rows * stride),
                    Output(
                        name: tensor.name + ".codebook", shape: codebookShape, dtype: .f32, ggmlType: nil,
                        byteCount: codebookShape.reduce(1, *) * 4),
                ], spec: spec)
        case .float, .mx:
            guard output.isSafetensors else {
                throw PipelineError.unsupported(
                    tensor.name, "method '\(spec.method.rawValue)' writes safetensors; set output.format to safetensors")
            }
            guard let last = tensor.shape.last, tensor.shape.count >= 1 else {
                throw PipelineError.unsupported(tensor.name, "method '\(spec.method.rawValue)' needs a rank of 1 or more")
            }
            let rows = last == 0 ? 0 : tensor.elementCount / last
            if case .float(let float) = spec {
                let element = float.element
                guard !float.perChannel || tensor.shape.count >= 2 else {
                    throw PipelineError.unsupported(
                        tensor.name, "channel scales need a rank of 2 or more; use granularity 'tensor' for it (an override)")
                }
                let scaleShape = float.perChannel ? [tensor.shape[0]] : []
                return TensorPlan(
                    source: tensor, action: .scaledFloat(element, perChannel: float.perChannel),
                    outputs: [
                        Output(
                            name: tensor.name, shape: tensor.shape, dtype: element.dtype, ggmlType: nil,
                            byteCount: tensor.elementCount),
                        Output(
                            name: tensor.name + ".scale", shape: scaleShape, dtype: .f32, ggmlType: nil,
                            byteCount: scaleShape.reduce(1, *) * 4),
                    ], spec: spec)
            }
            guard case .mx(let element) = spec else { throw PipelineError.unsupported(tensor.name, "internal: not an mx spec") }
            let blocks = (last + MXElement.blockSize - 1) / MXElement.blockSize
            let stride = element.bits == 8 ? last : Kernels.packedRowBytes(cols: last, bits: element.bits)
            return TensorPlan(
                source: tensor, action: .mx(element),
                outputs: [
                    Output(
                        name: tensor.name, shape: Array(tensor.shape.dropLast()) + [stride], dtype: element.codeDType,
                        ggmlType: nil, byteCount: rows * stride),
                    Output(
                        name: tensor.name + ".scale", shape: Array(tensor.shape.dropLast()) + [blocks], dtype: .f8E8M0,
                        ggmlType: nil, byteCount: rows * blocks),
                ], spec: spec)
        case .binary, .ternary:
            guard tensor.shape.count >= 2 else {
                throw PipelineError.unsupported(
                    tensor.name, "\(spec.method.rawValue) weights need a rank of 2 or more (one scale per output channel)")
            }
            let bits = spec.method == .binary ? 1 : 2
            let last = tensor.shape.last!
            let rows = last == 0 ? 0 : tensor.elementCount / last
            let stride = Kernels.packedRowBytes(cols: last, bits: bits)
            return TensorPlan(
                source: tensor, action: .sign(ternary: spec.method == .ternary),
                outputs: [
                    Output(
                        name: tensor.name, shape: Array(tensor.shape.dropLast()) + [stride], dtype: .u8, ggmlType: nil,
                        byteCount: rows * stride),
                    Output(
                        name: tensor.name + ".scale", shape: [tensor.shape[0]], dtype: .f32, ggmlType: nil,
                        byteCount: tensor.shape[0] * 4),
                ], spec: spec)
        case .linear, .gptq:
            let scheme = spec.scheme!
            if case .channel(let axis) = scheme.granularity, axis >= Swift.max(tensor.shape.count, 1) {
                throw PipelineError.unsupported(
                    tensor.name, "channel axis \(axis) is outside its shape \(tensor.shape); set weights.axis or add an override")
            }
            if output == .compressedTensors { return try compressedPlan(tensor, scheme: scheme, spec: spec) }
            let shape = tensor.shape
            let last = shape.last ?? 1
            let rows = last == 0 ? 0 : tensor.elementCount / last
            let codeShape =
                scheme.bits == 8 ? shape : Array(shape.dropLast()) + [Kernels.packedRowBytes(cols: last, bits: scheme.bits)]
            let codeBytes = scheme.bits == 8 ? tensor.elementCount : rows * Kernels.packedRowBytes(cols: last, bits: scheme.bits)
            let scaleShape: [Int]
            switch scheme.granularity {
            case .tensor: scaleShape = []
            case .channel(let axis): scaleShape = [shape[axis]]
            case .group(let size): scaleShape = Array(shape.dropLast()) + [(last + size - 1) / size]
            }
            let scaleCount = scaleShape.reduce(1, *)
            var outputs = [
                Output(
                    name: tensor.name, shape: codeShape, dtype: scheme.bits == 8 && scheme.symmetric ? .i8 : .u8, ggmlType: nil,
                    byteCount: codeBytes),
                scheme.groupScaleBits == nil
                    ? Output(
                        name: tensor.name + ".scale", shape: scaleShape, dtype: spec.scaleDType.dtype, ggmlType: nil,
                        byteCount: scaleCount * spec.scaleDType.dtype.bitWidth / 8)
                    : Output(name: tensor.name + ".scale", shape: scaleShape, dtype: .u8, ggmlType: nil, byteCount: scaleCount),
            ]
            if !scheme.symmetric {
                outputs.append(
                    Output(name: tensor.name + ".zero_point", shape: scaleShape, dtype: .u8, ggmlType: nil, byteCount: scaleCount)
                )
            }
            if scheme.groupScaleBits != nil {
                let superShape = Array(shape.dropLast())
                outputs.append(
                    Output(name: tensor.name + ".super_scale", shape: superShape, dtype: .f32, ggmlType: nil, byteCount: rows * 4)
                )
            }
            return TensorPlan(source: tensor, action: .linear(scheme, spec.scaleDType), outputs: outputs, spec: spec)
        case .gguf(let gguf):
            return try ggufPlan(tensor, gguf: gguf, spec: spec, output: output)
        }
    }

    /// A ggml type for the tensor. Rows that are not whole blocks of the type take the spec's
    /// `fallback` type when it has one (the user asked for it; the report names the type used),
    /// and are an error otherwise.
    static func ggufPlan(_ tensor: SourceTensor, gguf: WeightSpec.GGUF, spec: WeightSpec, output: Recipe.OutputFormat) throws
        -> TensorPlan
    {
        let type = gguf.type
        if type.isBlockQuantized {
            let last = tensor.shape.last ?? 1
            guard last % type.blockSize == 0 else {
                if let fallback = gguf.fallback {
                    let fallen = WeightSpec.GGUF(type: fallback, datasetID: gguf.datasetID)
                    return try ggufPlan(tensor, gguf: fallen, spec: .gguf(fallen), output: output)
                }
                let suggestion = type.isKQuant ? "Q8_0" : "F16"
                throw PipelineError.unsupported(
                    tensor.name,
                    "its rows have \(last) values, not a multiple of \(type.name)'s block of \(type.blockSize); add \"fallback\": \"\(suggestion)\" to the weights (every such tensor takes that type), an override for it (e.g. {\"match\": \"\(tensor.name)\", \"weights\": {\"method\": \"gguf\", \"type\": \"\(suggestion)\"}}) or list it in \"ignore\""
                )
            }
            return TensorPlan(
                source: tensor, action: .blocks(type),
                outputs: [
                    Output(
                        name: tensor.name, shape: tensor.shape, dtype: nil, ggmlType: type,
                        byteCount: type.blockBytes(elements: tensor.elementCount))
                ],
                spec: spec)
        }
        // A recipe's unquantized types are F32, F16 and BF16 (GGMLType.recipeTypes).
        return floatPlan(tensor, type.sameElementsDType ?? .f32, output: output, spec: spec)
    }

    /// The compressed-tensors layout of a linear 2-D `X.weight` (the team's ../shared/docs/FORMATS.md):
    /// int32 rows of codes + 2^(bits-1), least significant bits first.
    static func compressedPlan(_ tensor: SourceTensor, scheme: LinearScheme, spec: WeightSpec) throws -> TensorPlan {
        guard tensor.name.hasSuffix(".weight"), tensor.shape.count == 2 else {
            throw PipelineError.unsupported(
                tensor.name, "compressed-tensors quantizes 2-D Linear weights named '*.weight'; list it in \"ignore\"")
        }
        guard scheme.symmetric, [4, 8].contains(scheme.bits), scheme.groupScaleBits == nil, !scheme.powerOfTwoScales else {
            throw PipelineError.unsupported(
                tensor.name, "compressed-tensors pack-quantized takes symmetric int4 or int8 linear weights (one-level scales)")
        }
        let strategyOK: Bool
        switch scheme.granularity {
        case .channel(let axis): strategyOK = axis == 0
        case .group: strategyOK = true
        case .tensor: strategyOK = false
        }
        guard strategyOK else {
            throw PipelineError.unsupported(
                tensor.name, "compressed-tensors takes channel scales (axis 0) or groups along the input dimension")
        }
        let base = String(tensor.name.dropLast("weight".count))
        let (out, inputs) = (tensor.shape[0], tensor.shape[1])
        let words = (inputs * scheme.bits + 31) / 32
        let scaleColumns: Int
        if case .group(let size) = scheme.granularity { scaleColumns = (inputs + size - 1) / size } else { scaleColumns = 1 }
        let scaleBytes = out * scaleColumns * spec.scaleDType.dtype.bitWidth / 8
        return TensorPlan(
            source: tensor, action: .compressedLinear(scheme, spec.scaleDType),
            outputs: [
                Output(
                    name: base + "weight_packed", shape: [out, words], dtype: .i32, ggmlType: nil, byteCount: out * words * 4),
                Output(
                    name: base + "weight_scale", shape: [out, scaleColumns], dtype: spec.scaleDType.dtype, ggmlType: nil,
                    byteCount: scaleBytes),
                Output(name: base + "weight_shape", shape: [2], dtype: .i64, ggmlType: nil, byteCount: 16),
            ], spec: spec)
    }

    /// The tensor converted to a float type (F32, F16, BF16) in either format.
    static func floatPlan(
        _ tensor: SourceTensor, _ dtype: DType, output: Recipe.OutputFormat, note: String? = nil, spec: WeightSpec? = nil
    ) -> TensorPlan {
        let ggmlType: GGMLType? = output == .gguf ? GGMLType(sameElementsAs: dtype) : nil
        return TensorPlan(
            source: tensor, action: .float(dtype),
            outputs: [
                Output(
                    name: tensor.name, shape: tensor.shape, dtype: output.isSafetensors ? dtype : nil, ggmlType: ggmlType,
                    byteCount: tensor.elementCount * dtype.bitWidth / 8)
            ],
            spec: spec, note: note)
    }

    static func copyPlan(_ tensor: SourceTensor, output: Recipe.OutputFormat, note: String?) throws -> TensorPlan {
        let size = tensor.byteRange.count
        // Regrouped rows cannot be copied byte for byte: they pass through fp32, which is exact.
        if tensor.permuteHeads != nil, let dtype = tensor.floatDType, [.f32, .f16, .bf16].contains(dtype) {
            return floatPlan(tensor, dtype, output: output, note: note)
        }
        switch (tensor.storage, output) {
        case (.generated, _):
            return floatPlan(tensor, .f32, output: output, note: note)
        case (.safetensors(let dtype), .safetensors), (.safetensors(let dtype), .compressedTensors):
            return TensorPlan(
                source: tensor, action: .copy,
                outputs: [Output(name: tensor.name, shape: tensor.shape, dtype: dtype, ggmlType: nil, byteCount: size)],
                spec: nil, note: note)
        case (.gguf(let type), .gguf):
            return TensorPlan(
                source: tensor, action: .copy,
                outputs: [Output(name: tensor.name, shape: tensor.shape, dtype: nil, ggmlType: type, byteCount: size)], spec: nil,
                note: note)
        case (.safetensors(let dtype), .gguf):
            guard let type = GGMLType(sameElementsAs: dtype) else {
                throw PipelineError.unsupported(
                    tensor.name, "dtype \(dtype.rawValue) has no GGUF type; write safetensors instead")
            }
            return TensorPlan(
                source: tensor, action: .copy,
                outputs: [Output(name: tensor.name, shape: tensor.shape, dtype: nil, ggmlType: type, byteCount: size)], spec: nil,
                note: note)
        case (.gguf(let type), .safetensors), (.gguf(let type), .compressedTensors):
            guard let dtype = type.sameElementsDType else {
                throw PipelineError.unsupported(
                    tensor.name, "ggml type \(type.name) cannot be stored in safetensors; write GGUF instead")
            }
            return TensorPlan(
                source: tensor, action: .copy,
                outputs: [Output(name: tensor.name, shape: tensor.shape, dtype: dtype, ggmlType: nil, byteCount: size)],
                spec: nil, note: note)
        }
    }
}
