import Int8Kernels
import JSON
import ModelFormats

/// How the weights of one tensor are quantized, fully resolved and validated: one case per method,
/// each with exactly its own settings (WeightSpec+Parse.swift reads each from recipe JSON).
public enum WeightSpec: Equatable, Sendable {
    case linear(Linear)
    /// Linear codes chosen by GPTQ (column-wise error feedback through the inverse Hessian of the
    /// layer's calibration inputs); the artifact layout is the linear one.
    case gptq(GPTQSettings)
    case gguf(GGUF)
    /// Sign times a per-channel scale, mean |W| (XNOR-Net): 1-bit fields, 1 = +1, 0 = -1.
    case binary
    /// {-1, 0, +1} with threshold 0.7 mean |W| and a per-channel scale over the survivors (TWN):
    /// 2-bit two's complement.
    case ternary
    /// fp8 (E4M3 or E5M2) elements with an F32 scale per tensor or per output channel.
    case float(ScaledFloat)
    /// OCP Microscaling: blocks of 32 along rows share an E8M0 power-of-two scale.
    case mx(MXElement)
    /// A codebook of 2^bits centroids (1-D k-means) per tensor or per output channel.
    case kmeans(KMeans)

    /// The methods by name, as recipes spell them.
    public enum Method: String, Sendable, CaseIterable {
        case linear, gguf, binary, ternary, float, mx, kmeans, gptq
    }

    /// Storage of linear scales.
    public enum ScaleDType: String, Sendable, CaseIterable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16"

        public var dtype: DType {
            switch self {
            case .f32: .f32
            case .f16: .f16
            case .bf16: .bf16
            }
        }
    }

    public struct Linear: Equatable, Sendable {
        public var scheme: LinearScheme
        public var scaleDType: ScaleDType = .f32

        public init(scheme: LinearScheme, scaleDType: ScaleDType = .f32) {
            self.scheme = scheme
            self.scaleDType = scaleDType
        }
    }

    public struct GPTQSettings: Equatable, Sendable {
        public var scheme: LinearScheme
        public var scaleDType: ScaleDType
        public var options: GPTQOptions
        /// The dataset whose layer inputs give the Hessians.
        public var datasetID: String
    }

    public struct GGUF: Equatable, Sendable {
        /// One of `GGMLType.recipeTypes`.
        public var type: GGMLType
        /// The type for tensors whose rows are not whole blocks of `type` (a type with blocks of 32
        /// or none); without it such tensors are an error.
        public var fallback: GGMLType? = nil
        /// llama.cpp's K-quant mix (Q4_K_M ...): `type` is its base, and the pipeline picks each
        /// tensor's type by the mix's rules (`KQuantMix`).
        public var mix: KQuantMix? = nil
        /// A dataset (or llama.cpp importance matrix) whose inputs weight the block search.
        public var datasetID: String? = nil

        public init(type: GGMLType, fallback: GGMLType? = nil, mix: KQuantMix? = nil, datasetID: String? = nil) {
            self.type = type
            self.fallback = fallback
            self.mix = mix
            self.datasetID = datasetID
        }
    }

    public struct ScaledFloat: Equatable, Sendable {
        public var element: FloatElement
        /// Scales per output channel (axis 0), else one per tensor.
        public var perChannel: Bool

        public init(element: FloatElement, perChannel: Bool) {
            self.element = element
            self.perChannel = perChannel
        }
    }

    public struct KMeans: Equatable, Sendable {
        /// Index bits: the codebook has 2^bits entries.
        public var bits: Int
        public var perChannel: Bool

        public init(bits: Int, perChannel: Bool) {
            self.bits = bits
            self.perChannel = perChannel
        }
    }

    public var method: Method {
        switch self {
        case .linear: .linear
        case .gptq: .gptq
        case .gguf: .gguf
        case .binary: .binary
        case .ternary: .ternary
        case .float: .float
        case .mx: .mx
        case .kmeans: .kmeans
        }
    }

    /// The scheme and scale storage of the methods that write linear codes (`linear`, `gptq`).
    public var linearCodes: (scheme: LinearScheme, scaleDType: ScaleDType)? {
        switch self {
        case .linear(let linear): (linear.scheme, linear.scaleDType)
        case .gptq(let gptq): (gptq.scheme, gptq.scaleDType)
        default: nil
        }
    }

    public var scheme: LinearScheme? { linearCodes?.scheme }

    /// How linear scales are stored (F32 for the methods that have none).
    public var scaleDType: ScaleDType { linearCodes?.scaleDType ?? .f32 }

    /// The `gguf` settings, for the other methods nil.
    public var gguf: GGUF? {
        if case .gguf(let settings) = self { return settings }
        return nil
    }

    /// The ggml type of a `gguf` spec.
    public var ggufType: GGMLType? { gguf?.type }

    /// The dataset this spec reads (GPTQ's Hessians, a `gguf` importance matrix, AdaRound's), if any.
    public var calibrationDatasetID: String? {
        switch self {
        case .gptq(let gptq): gptq.datasetID
        case .gguf(let gguf): gguf.datasetID
        case .linear(let linear):
            if case .adaround(_, let id) = linear.scheme.rounding { id } else { nil }
        default: nil
        }
    }

    /// The spec with importance weights from `datasetID`, when its ggml type takes them (a mix's
    /// types are resolved per tensor later); other methods are returned unchanged.
    public func weightingImportance(_ datasetID: String) -> WeightSpec {
        guard case .gguf(var gguf) = self, gguf.datasetID == nil, gguf.mix != nil || gguf.type.takesImportance else {
            return self
        }
        gguf.datasetID = datasetID
        return .gguf(gguf)
    }

    /// The JSON form stored in reports and artifact metadata.
    public var json: JSONValue {
        var object = JSONObject([("method", .string(method.rawValue))])
        switch self {
        case .linear(let linear):
            Self.addLinear(linear.scheme, linear.scaleDType, to: &object)
            var rounding = JSONObject([("method", .string(linear.scheme.rounding.name))])
            if case .stochastic(let seed) = linear.scheme.rounding { rounding["seed"] = .integer(seed) }
            if case .adaround(let iterations, let dataset) = linear.scheme.rounding {
                rounding["dataset_id"] = .string(dataset)
                rounding["iterations"] = .integer(iterations)
            }
            object["rounding"] = .object(rounding)
        case .gptq(let gptq):
            Self.addLinear(gptq.scheme, gptq.scaleDType, to: &object)
            object["damping"] = .number(String(gptq.options.damping))
            object["act_order"] = .bool(gptq.options.actOrder)
            object["dataset_id"] = .string(gptq.datasetID)
        case .gguf(let gguf):
            object["type"] = .string(gguf.type.name)
            if let mix = gguf.mix { object["mix"] = .string(mix.rawValue) }
            if let fallback = gguf.fallback { object["fallback"] = .string(fallback.name) }
            if let datasetID = gguf.datasetID { object["dataset_id"] = .string(datasetID) }
        case .float(let float):
            object["format"] = .string(float.element.rawValue)
            object["granularity"] = .string(float.perChannel ? "channel" : "tensor")
        case .mx(let element):
            object["format"] = .string(element.rawValue)
        case .kmeans(let kmeans):
            object["bits"] = .integer(kmeans.bits)
            object["granularity"] = .string(kmeans.perChannel ? "channel" : "tensor")
        case .binary, .ternary:
            break
        }
        return .object(object)
    }

    private static func addLinear(_ scheme: LinearScheme, _ scaleDType: ScaleDType, to object: inout JSONObject) {
        object["bits"] = .integer(scheme.bits)
        object["symmetric"] = .bool(scheme.symmetric)
        switch scheme.granularity {
        case .tensor: object["granularity"] = .string("tensor")
        case .channel(let axis):
            object["granularity"] = .string("channel")
            object["axis"] = .integer(axis)
        case .group(let size):
            object["granularity"] = .string("group")
            object["group_size"] = .integer(size)
        }
        object["scale_dtype"] = .string(scaleDType.rawValue)
        if scheme.powerOfTwoScales { object["scale_constraint"] = .string("power_of_two") }
        if let bits = scheme.groupScaleBits { object["scale_bits"] = .integer(bits) }
        var clipping = JSONObject([("method", .string(scheme.clipping.name))])
        switch scheme.clipping {
        case .percentile(let p): clipping["percentile"] = .number(String(p))
        case .mse(let steps): clipping["steps"] = .integer(steps)
        case .kl(let bins): clipping["bins"] = .integer(bins)
        case .minmax: break
        }
        object["clipping"] = .object(clipping)
    }
}
