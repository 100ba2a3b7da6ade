import Int8Kernels
import ModelFormats

/// How the weights of one tensor are quantized, fully resolved and validated.
public struct WeightSpec: Equatable, Sendable {
    public enum Method: String, Sendable, CaseIterable {
        case linear, gguf
        /// Sign times a per-channel scale, mean |W| (XNOR-Net): 1-bit fields, 1 = +1, 0 = -1.
        case binary
        /// {-1, 0, +1} with threshold 0.7 mean |W| and a per-channel scale over the survivors (TWN):
        /// 2-bit two's complement.
        case ternary
        /// fp8 (E4M3 or E5M2) elements with an F32 scale per tensor or per output channel.
        case float
        /// OCP Microscaling: blocks of 32 along rows share an E8M0 power-of-two scale.
        case mx
        /// A codebook of 2^bits centroids (1-D k-means) per tensor or per output channel.
        case kmeans
        /// Linear codes chosen by GPTQ (column-wise error feedback through the inverse Hessian of the
        /// layer's calibration inputs); the artifact layout is the linear one.
        case gptq
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

    public var method: Method
    public var scheme: LinearScheme?
    public var scaleDType: ScaleDType
    /// `gguf`: the ggml type (one of `GGMLType.recipeTypes`).
    public var ggufType: GGMLType?
    /// `gguf`: the type for tensors whose rows are not whole blocks of `ggufType` (a type with
    /// blocks of 32 or none); without it such tensors are an error.
    public var ggufFallback: GGMLType? = nil
    /// `gguf`: llama.cpp's K-quant mix (Q4_K_M ...): `ggufType` is its base, and the pipeline picks
    /// each tensor's type by the mix's rules (`KQuantMix`).
    public var ggufMix: KQuantMix? = nil
    /// `float`: the element format, and whether scales are per output channel (axis 0).
    public var floatElement: FloatElement? = nil
    public var perChannel = false
    /// `mx`: the element format.
    public var mxElement: MXElement? = nil
    /// `kmeans`: index bits (the codebook has 2^bits entries); `perChannel` as for `float`.
    public var kmeansBits: Int? = nil
    /// `gptq`: its options, and the dataset whose inputs give the Hessians (for `gguf` K-quants: the
    /// importance weights, each column's mean squared input).
    public var gptq: GPTQOptions? = nil
    public var datasetID: String? = nil

    /// The dataset this spec needs (GPTQ's, or AdaRound's), if any.
    public var calibrationDatasetID: String? {
        if let datasetID { return datasetID }
        if case .adaround(_, let id)? = scheme?.rounding { return id }
        return nil
    }

    /// Linear codes in the linear artifact layout (`linear` and `gptq`).
    public var isLinearLayout: Bool { method == .linear || method == .gptq }

    /// The JSON form stored in reports and artifact metadata.
    public var json: JSONValue {
        var object = JSONObject([("method", .string(method.rawValue))])
        if let scheme, isLinearLayout {
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
            if let gptq {
                object["damping"] = .number(String(gptq.damping))
                object["act_order"] = .bool(gptq.actOrder)
                object["dataset_id"] = datasetID.map { .string($0) } ?? .null
            } else {
                var rounding = JSONObject([("method", .string(scheme.rounding.name))])
                if case .stochastic(let seed) = scheme.rounding { rounding["seed"] = .integer(seed) }
                if case .adaround(let iterations, let dataset) = scheme.rounding {
                    rounding["dataset_id"] = .string(dataset)
                    rounding["iterations"] = .integer(iterations)
                }
                object["rounding"] = .object(rounding)
            }
        }
        if let ggufType { object["type"] = .string(ggufType.name) }
        if let ggufMix { object["mix"] = .string(ggufMix.rawValue) }
        if let ggufFallback { object["fallback"] = .string(ggufFallback.name) }
        if ggufType != nil, let datasetID { object["dataset_id"] = .string(datasetID) }
        if let floatElement {
            object["format"] = .string(floatElement.rawValue)
            object["granularity"] = .string(perChannel ? "channel" : "tensor")
        }
        if let mxElement { object["format"] = .string(mxElement.rawValue) }
        if let kmeansBits {
            object["bits"] = .integer(kmeansBits)
            object["granularity"] = .string(perChannel ? "channel" : "tensor")
        }
        return .object(object)
    }

    /// Parses a merged `weights` object; `path` names it in errors ("weights", "overrides[1].weights").
    public static func parse(_ object: JSONObject, path: String) throws -> WeightSpec {
        func field(_ name: String) -> String { "\(path).\(name)" }
        let method = try enumValue(object["method"] ?? .string("linear"), Method.self, field("method"))
        let linearFields = ["method", "bits", "symmetric", "granularity", "axis", "group_size", "scale_dtype", "clipping", "rounding", "scale_constraint", "scale_bits"]
        let ggufFields = ["method", "type", "mix", "fallback", "dataset_id"]
        let allowed: [String]
        switch method {
        case .linear: allowed = linearFields
        case .gptq: allowed = linearFields.filter { $0 != "rounding" } + ["damping", "act_order", "dataset_id"]
        case .gguf: allowed = ggufFields
        case .float: allowed = ["method", "format", "granularity"]
        case .mx: allowed = ["method", "format"]
        case .kmeans: allowed = ["method", "bits", "granularity"]
        case .binary, .ternary: allowed = ["method"]
        }
        for key in object.keys where !allowed.contains(key) {
            throw RecipeError(field(key), "is not a field of method '\(method.rawValue)' (allowed: \(allowed.joined(separator: ", ")))")
        }
        switch method {
        case .float:
            let element = try enumValue(object["format"] ?? .string("fp8-e4m3"), FloatElement.self, field("format"))
            let granularity = try enumValue(object["granularity"] ?? .string("channel"), GranularityName.self, field("granularity"))
            guard granularity != .group else {
                throw RecipeError(field("granularity"), "must be 'tensor' or 'channel' for method 'float' (for blocks, use method 'mx')")
            }
            return WeightSpec(method: .float, scheme: nil, scaleDType: .f32, ggufType: nil, floatElement: element, perChannel: granularity == .channel)
        case .kmeans:
            let bits = try integer(object["bits"] ?? .integer(4), field("bits"), range: 2...8)
            let granularity = try enumValue(object["granularity"] ?? .string("tensor"), GranularityName.self, field("granularity"))
            guard granularity != .group else { throw RecipeError(field("granularity"), "must be 'tensor' or 'channel' for method 'kmeans'") }
            return WeightSpec(method: .kmeans, scheme: nil, scaleDType: .f32, ggufType: nil, perChannel: granularity == .channel, kmeansBits: bits)
        case .mx:
            guard let formatValue = object["format"] else {
                throw RecipeError(field("format"), "is required for method 'mx' (one of \(MXElement.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let element = try enumValue(formatValue, MXElement.self, field("format"))
            return WeightSpec(method: .mx, scheme: nil, scaleDType: .f32, ggufType: nil, mxElement: element)
        case .binary, .ternary:
            // One F32 scale per output channel (axis 0), as in XNOR-Net and TWN.
            return WeightSpec(method: method, scheme: nil, scaleDType: .f32, ggufType: nil)
        case .gguf:
            let mix = try object["mix"].map { try enumValue($0, KQuantMix.self, field("mix"), uppercase: true) }
            guard let typeValue = object["type"] ?? mix.map({ .string($0.base.name) }) else {
                throw RecipeError(field("type"), "is required for method 'gguf' (one of \(GGMLType.recipeTypes.map(\.name).joined(separator: ", ")))")
            }
            let type = try ggmlType(typeValue, field("type"))
            var spec = WeightSpec(method: .gguf, scheme: nil, scaleDType: .f16, ggufType: type)
            if let mix {
                guard type == mix.base else {
                    throw RecipeError(field("type"), "is \(type.name), but mix \(mix.rawValue) is built on \(mix.base.name); drop \"type\" or \"mix\"")
                }
                guard object["fallback"] == nil else {
                    throw RecipeError(field("fallback"), "cannot be combined with mix \(mix.rawValue), which has llama.cpp's own fallbacks")
                }
                spec.ggufMix = mix
            }
            if let fallbackValue = object["fallback"] {
                let fallback = try ggmlType(fallbackValue, field("fallback"))
                if fallback.isKQuant {
                    throw RecipeError(field("fallback"), "must fit rows that \(type.name) cannot: a type with blocks of 32 or none (Q8_0, Q5_0, Q4_0, F16...), not \(fallback.name)")
                }
                spec.ggufFallback = fallback
            }
            if let datasetValue = object["dataset_id"] {
                guard let dataset = datasetValue.stringValue, !dataset.isEmpty else {
                    throw RecipeError(field("dataset_id"), "must be the id of a dataset from POST /v1/datasets, got \(datasetValue.serialized)")
                }
                guard type.takesImportance else {
                    throw RecipeError(field("dataset_id"), "gives importance weights to Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and the K-quants (Q2_K to Q6_K), not \(type.name) (ggml's \(type.name) quantizer takes none)")
                }
                spec.datasetID = dataset
            }
            if spec.ggufMix == .q2_K_S && spec.datasetID == nil {
                throw RecipeError(field("dataset_id"), "is required by mix Q2_K_S: llama.cpp refuses it without an importance matrix (the result is unusable); give a calibration dataset, or use mix Q2_K")
            }
            return spec
        case .linear, .gptq:
            let bits = try integer(object["bits"] ?? .integer(8), field("bits"), range: 2...8)
            let symmetric = try boolean(object["symmetric"] ?? .bool(true), field("symmetric"))
            let granularityName = try enumValue(object["granularity"] ?? .string("channel"), GranularityName.self, field("granularity"))
            let granularity: Granularity
            switch granularityName {
            case .tensor: granularity = .tensor
            case .channel: granularity = .channel(axis: try integer(object["axis"] ?? .integer(0), field("axis"), range: 0...7))
            case .group: granularity = .group(size: try integer(object["group_size"] ?? .integer(128), field("group_size"), range: 1...(1 << 20)))
            }
            if granularityName != .channel, object["axis"] != nil {
                throw RecipeError(field("axis"), "applies only to granularity 'channel'")
            }
            if granularityName != .group, object["group_size"] != nil {
                throw RecipeError(field("group_size"), "applies only to granularity 'group'")
            }
            let scaleDType = try enumValue(object["scale_dtype"] ?? .string("F32"), ScaleDType.self, field("scale_dtype"), uppercase: true)
            let clipping = try parseClipping(object["clipping"], field("clipping"))
            let rounding = try parseRounding(object["rounding"], field("rounding"))
            let scheme: LinearScheme
            do {
                let constraint = try enumValue(object["scale_constraint"] ?? .string("none"), ScaleConstraint.self, field("scale_constraint"))
                scheme = try LinearScheme(
                    bits: bits, symmetric: symmetric, granularity: granularity, clipping: clipping, rounding: rounding,
                    powerOfTwoScales: constraint == .powerOfTwo,
                    groupScaleBits: try object["scale_bits"].map { try integer($0, field("scale_bits"), range: 2...8) })
            } catch QuantError.invalidScheme(let message) {
                throw RecipeError(field(message.contains("scale_bits") || message.contains("two-level") ? "scale_bits" : "clipping"), message)
            }
            var spec = WeightSpec(method: method, scheme: scheme, scaleDType: scaleDType, ggufType: nil)
            if method == .gptq {
                guard let dataset = object["dataset_id"]?.stringValue, !dataset.isEmpty else {
                    throw RecipeError(field("dataset_id"), "is required for method 'gptq': the id of a dataset from POST /v1/datasets")
                }
                guard scheme.groupScaleBits == nil else {
                    throw RecipeError(field("scale_bits"), "GPTQ keeps one level of scales; remove scale_bits")
                }
                switch granularity {
                case .group, .channel(axis: 0): break
                default: throw RecipeError(field("granularity"), "GPTQ needs granularity 'group' or 'channel' (axis 0): scales along each output row")
                }
                var options = GPTQOptions()
                if let damping = object["damping"] {
                    guard let value = damping.doubleValue, value > 0, value <= 1 else {
                        throw RecipeError(field("damping"), "must be a number above 0 and at most 1 (a fraction of the mean Hessian diagonal), e.g. 0.01")
                    }
                    options.damping = value
                }
                options.actOrder = try boolean(object["act_order"] ?? .bool(false), field("act_order"))
                spec.gptq = options
                spec.datasetID = dataset
            }
            if spec.ggufMix == .q2_K_S && spec.datasetID == nil {
                throw RecipeError(field("dataset_id"), "is required by mix Q2_K_S: llama.cpp refuses it without an importance matrix (the result is unusable); give a calibration dataset, or use mix Q2_K")
            }
            return spec
        }
    }

    enum GranularityName: String, CaseIterable { case tensor, channel, group }
    enum ScaleConstraint: String, CaseIterable { case none, powerOfTwo = "power_of_two" }

    static func enumValue<T: RawRepresentable & CaseIterable>(
        _ value: JSONValue, _: T.Type, _ field: String, uppercase: Bool = false
    ) throws -> T where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = value.stringValue, let result = T(rawValue: uppercase ? text.uppercased() : text) else {
            throw RecipeError(field, "must be one of \(allowed), got \(value.serialized)")
        }
        return result
    }

    /// One of the ggml types a `gguf` recipe may name (case-insensitive).
    static func ggmlType(_ value: JSONValue, _ field: String) throws -> GGMLType {
        guard let text = value.stringValue, let type = GGMLType.named(text), GGMLType.recipeTypes.contains(type) else {
            throw RecipeError(field, "must be one of \(GGMLType.recipeTypes.map(\.name).joined(separator: ", ")), got \(value.serialized)")
        }
        return type
    }

    static func integer(_ value: JSONValue, _ field: String, range: ClosedRange<Int>) throws -> Int {
        guard let number = value.intValue, range.contains(number) else {
            throw RecipeError(field, "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(value.serialized)")
        }
        return number
    }

    static func boolean(_ value: JSONValue, _ field: String) throws -> Bool {
        guard let flag = value.boolValue else { throw RecipeError(field, "must be true or false, got \(value.serialized)") }
        return flag
    }

    /// `{"method": "minmax" | "percentile" (+ "percentile": 99.9) | "mse" (+ "steps": 20)}`.
    static func parseClipping(_ value: JSONValue?, _ field: String) throws -> ClippingMethod {
        guard let value else { return .minmax }
        guard let object = value.objectValue, let name = object["method"]?.stringValue else {
            throw RecipeError(field, "must be {\"method\": \"minmax\" | \"percentile\" | \"mse\" | \"kl\"}, got \(value.serialized)")
        }
        let allowed: [String: [String]] = ["minmax": ["method"], "percentile": ["method", "percentile"], "mse": ["method", "steps"], "kl": ["method", "bins"]]
        guard let fields = allowed[name] else {
            throw RecipeError("\(field).method", "must be minmax, percentile, mse or kl, got \(name)")
        }
        for key in object.keys where !fields.contains(key) {
            throw RecipeError("\(field).\(key)", "is not a field of clipping \(name) (allowed: \(fields.joined(separator: ", ")))")
        }
        switch name {
        case "percentile":
            guard let p = object["percentile"]?.doubleValue, p > 50, p <= 100 else {
                throw RecipeError("\(field).percentile", "must be a number above 50 and at most 100, e.g. 99.99")
            }
            return .percentile(p)
        case "mse":
            let steps = try integer(object["steps"] ?? .integer(20), "\(field).steps", range: 2...200)
            return .mse(steps: steps)
        case "kl":
            return .kl(bins: try integer(object["bins"] ?? .integer(512), "\(field).bins", range: 256...65_536))
        default:
            return .minmax
        }
    }

    /// `{"method": "nearest"}` or `{"method": "stochastic", "seed": 42}`.
    static func parseRounding(_ value: JSONValue?, _ field: String) throws -> RoundingMethod {
        guard let value else { return .nearest }
        guard let object = value.objectValue, let name = object["method"]?.stringValue, ["nearest", "stochastic", "adaround"].contains(name) else {
            throw RecipeError(
                field,
                "must be {\"method\": \"nearest\"}, {\"method\": \"stochastic\", \"seed\": 42} or {\"method\": \"adaround\", \"dataset_id\": ..., \"iterations\": 1000}, got \(value.serialized)")
        }
        if name == "adaround" {
            for key in object.keys where !["method", "dataset_id", "iterations"].contains(key) {
                throw RecipeError("\(field).\(key)", "is not a field of rounding adaround (allowed: method, dataset_id, iterations)")
            }
            guard let dataset = object["dataset_id"]?.stringValue, !dataset.isEmpty else {
                throw RecipeError("\(field).dataset_id", "is required for adaround: the id of a dataset from POST /v1/datasets")
            }
            let iterations = try integer(object["iterations"] ?? .integer(1000), "\(field).iterations", range: 1...100_000)
            return .adaround(iterations: iterations, datasetID: dataset)
        }
        for key in object.keys where key != "method" && !(name == "stochastic" && key == "seed") {
            throw RecipeError("\(field).\(key)", "is not a field of rounding \(name)")
        }
        guard name == "stochastic" else { return .nearest }
        guard let seed = (object["seed"] ?? .integer(0)).uint64Value else {
            throw RecipeError("\(field).seed", "must be a non-negative integer")
        }
        return .stochastic(seed: seed)
    }

    /// `{"method": "..."}` objects; other issues add more methods.
    static func methodObject(_ value: JSONValue?, _ field: String, allowed: [String]) throws {
        guard let value else { return }
        guard let object = value.objectValue, object.keys == ["method"], let name = object["method"]?.stringValue,
            allowed.contains(name)
        else {
            throw RecipeError(field, "must be {\"method\": \(allowed.map { "\"\($0)\"" }.joined(separator: " | "))}, got \(value.serialized)")
        }
    }
}
