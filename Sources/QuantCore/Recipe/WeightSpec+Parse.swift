import Int8Kernels
import JSON
import ModelFormats

/// Recipe JSON -> WeightSpec: the method picks the case, and each case reads its own fields. Error
/// messages name the field by its path ("weights.bits", "overrides[1].weights.type").
extension WeightSpec {
    /// The fields each method takes.
    static func fields(of method: Method) -> [String] {
        let linear = [
            "method", "bits", "symmetric", "granularity", "axis", "group_size", "scale_dtype", "clipping", "rounding",
            "scale_constraint", "scale_bits",
        ]
        switch method {
        case .linear: return linear
        case .gptq: return linear.filter { $0 != "rounding" } + ["damping", "act_order", "dataset_id"]
        case .gguf: return ["method", "type", "mix", "fallback", "dataset_id"]
        case .float: return ["method", "format", "granularity"]
        case .mx: return ["method", "format"]
        case .kmeans: return ["method", "bits", "granularity"]
        case .binary, .ternary: return ["method"]
        }
    }

    /// Parses a merged `weights` object; `path` names it in errors ("weights", "overrides[1].weights").
    public static func parse(_ object: JSONObject, path: String) throws -> WeightSpec {
        let field = { (name: String) in "\(path).\(name)" }
        let method = try enumValue(object["method"] ?? .string("linear"), Method.self, field("method"))
        let allowed = fields(of: method)
        for key in object.keys where !allowed.contains(key) {
            throw RecipeError(
                field(key), "is not a field of method '\(method.rawValue)' (allowed: \(allowed.joined(separator: ", ")))")
        }
        switch method {
        case .linear: return .linear(try Linear.parse(object, field))
        case .gptq: return .gptq(try GPTQSettings.parse(object, field))
        case .gguf: return .gguf(try GGUF.parse(object, field))
        case .float: return .float(try ScaledFloat.parse(object, field))
        case .mx: return .mx(try parseMX(object, field))
        case .kmeans: return .kmeans(try KMeans.parse(object, field))
        // One F32 scale per output channel (axis 0), as in XNOR-Net and TWN.
        case .binary: return .binary
        case .ternary: return .ternary
        }
    }

    static func parseMX(_ object: JSONObject, _ field: (String) -> String) throws -> MXElement {
        guard let formatValue = object["format"] else {
            throw RecipeError(
                field("format"),
                "is required for method 'mx' (one of \(MXElement.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return try enumValue(formatValue, MXElement.self, field("format"))
    }
}

extension WeightSpec.Linear {
    static func parse(_ object: JSONObject, _ field: (String) -> String) throws -> Self {
        let (scheme, scaleDType) = try WeightSpec.parseLinearScheme(object, field) {
            try WeightSpec.parseRounding(object["rounding"], field("rounding"))
        }
        return Self(scheme: scheme, scaleDType: scaleDType)
    }
}

extension WeightSpec.GPTQSettings {
    static func parse(_ object: JSONObject, _ field: (String) -> String) throws -> Self {
        let (scheme, scaleDType) = try WeightSpec.parseLinearScheme(object, field) { .nearest }
        guard let dataset = object["dataset_id"]?.stringValue, !dataset.isEmpty else {
            throw RecipeError(field("dataset_id"), "is required for method 'gptq': the id of a dataset from POST /v1/datasets")
        }
        guard scheme.groupScaleBits == nil else {
            throw RecipeError(field("scale_bits"), "GPTQ keeps one level of scales; remove scale_bits")
        }
        switch scheme.granularity {
        case .group, .channel(axis: 0): break
        default:
            throw RecipeError(
                field("granularity"), "GPTQ needs granularity 'group' or 'channel' (axis 0): scales along each output row")
        }
        var options = GPTQOptions()
        if let damping = object["damping"] {
            guard let value = damping.doubleValue, value > 0, value <= 1 else {
                throw RecipeError(
                    field("damping"),
                    "must be a number above 0 and at most 1 (a fraction of the mean Hessian diagonal), e.g. 0.01")
            }
            options.damping = value
        }
        options.actOrder = try WeightSpec.boolean(object["act_order"] ?? .bool(false), field("act_order"))
        return Self(scheme: scheme, scaleDType: scaleDType, options: options, datasetID: dataset)
    }
}

extension WeightSpec.GGUF {
    static func parse(_ object: JSONObject, _ field: (String) -> String) throws -> Self {
        let mix = try object["mix"].map { try WeightSpec.enumValue($0, KQuantMix.self, field("mix"), uppercase: true) }
        guard let typeValue = object["type"] ?? mix.map({ .string($0.base.name) }) else {
            throw RecipeError(
                field("type"),
                "is required for method 'gguf' (one of \(GGMLType.recipeTypes.map(\.name).joined(separator: ", ")))")
        }
        let type = try WeightSpec.ggmlType(typeValue, field("type"))
        var spec = Self(type: type)
        if let mix {
            guard type == mix.base else {
                throw RecipeError(
                    field("type"),
                    "is \(type.name), but mix \(mix.rawValue) is built on \(mix.base.name); drop \"type\" or \"mix\"")
            }
            guard object["fallback"] == nil else {
                throw RecipeError(
                    field("fallback"), "cannot be combined with mix \(mix.rawValue), which has llama.cpp's own fallbacks")
            }
            spec.mix = mix
        }
        if let fallbackValue = object["fallback"] {
            let fallback = try WeightSpec.ggmlType(fallbackValue, field("fallback"))
            if fallback.isKQuant {
                throw RecipeError(
                    field("fallback"),
                    "must fit rows that \(type.name) cannot: a type with blocks of 32 or none (Q8_0, Q5_0, Q4_0, F16...), not \(fallback.name)"
                )
            }
            spec.fallback = fallback
        }
        if let datasetValue = object["dataset_id"] {
            guard let dataset = datasetValue.stringValue, !dataset.isEmpty else {
                throw RecipeError(
                    field("dataset_id"), "must be the id of a dataset from POST /v1/datasets, got \(datasetValue.serialized)")
            }
            guard type.takesImportance else {
                throw RecipeError(
                    field("dataset_id"),
                    "gives importance weights to Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and the K-quants (Q2_K to Q6_K), not \(type.name) (ggml's \(type.name) quantizer takes none)"
                )
            }
            spec.datasetID = dataset
        }
        if spec.mix == .q2_K_S && spec.datasetID == nil {
            throw RecipeError(
                field("dataset_id"),
                "is required by mix Q2_K_S: llama.cpp refuses it without an importance matrix (the result is unusable); give a calibration dataset, or use mix Q2_K"
            )
        }
        return spec
    }
}

extension WeightSpec.ScaledFloat {
    static func parse(_ object: JSONObject, _ field: (String) -> String) throws -> Self {
        let element = try WeightSpec.enumValue(object["format"] ?? .string("fp8-e4m3"), FloatElement.self, field("format"))
        let granularity = try WeightSpec.enumValue(
            object["granularity"] ?? .string("channel"), WeightSpec.GranularityName.self, field("granularity"))
        guard granularity != .group else {
            throw RecipeError(
                field("granularity"), "must be 'tensor' or 'channel' for method 'float' (for blocks, use method 'mx')")
        }
        return Self(element: element, perChannel: granularity == .channel)
    }
}

extension WeightSpec.KMeans {
    static func parse(_ object: JSONObject, _ field: (String) -> String) throws -> Self {
        let bits = try WeightSpec.integer(object["bits"] ?? .integer(4), field("bits"), range: 2...8)
        let granularity = try WeightSpec.enumValue(
            object["granularity"] ?? .string("tensor"), WeightSpec.GranularityName.self, field("granularity"))
        guard granularity != .group else {
            throw RecipeError(field("granularity"), "must be 'tensor' or 'channel' for method 'kmeans'")
        }
        return Self(bits: bits, perChannel: granularity == .channel)
    }
}

extension WeightSpec {
    /// The linear fields shared by `linear` and `gptq`: bits, symmetry, granularity, scale storage,
    /// clipping, scale constraints.
    static func parseLinearScheme(
        _ object: JSONObject, _ field: (String) -> String, rounding parseRounding: () throws -> RoundingMethod
    ) throws -> (LinearScheme, ScaleDType) {
        let bits = try integer(object["bits"] ?? .integer(8), field("bits"), range: 2...8)
        let symmetric = try boolean(object["symmetric"] ?? .bool(true), field("symmetric"))
        let granularityName = try enumValue(
            object["granularity"] ?? .string("channel"), GranularityName.self, field("granularity"))
        let granularity: Granularity
        switch granularityName {
        case .tensor: granularity = .tensor
        case .channel: granularity = .channel(axis: try integer(object["axis"] ?? .integer(0), field("axis"), range: 0...7))
        case .group:
            granularity = .group(
                size: try integer(object["group_size"] ?? .integer(128), field("group_size"), range: 1...(1 << 20)))
        }
        if granularityName != .channel, object["axis"] != nil {
            throw RecipeError(field("axis"), "applies only to granularity 'channel'")
        }
        if granularityName != .group, object["group_size"] != nil {
            throw RecipeError(field("group_size"), "applies only to granularity 'group'")
        }
        let scaleDType = try enumValue(
            object["scale_dtype"] ?? .string("F32"), ScaleDType.self, field("scale_dtype"), uppercase: true)
        let clipping = try parseClipping(object["clipping"], field("clipping"))
        let rounding = try parseRounding()
        let constraint = try enumValue(
            object["scale_constraint"] ?? .string("none"), ScaleConstraint.self, field("scale_constraint"))
        let scaleBits = try object["scale_bits"].map { try integer($0, field("scale_bits"), range: 2...8) }
        do {
            let scheme = try LinearScheme(
                bits: bits, symmetric: symmetric, granularity: granularity, clipping: clipping, rounding: rounding,
                powerOfTwoScales: constraint == .powerOfTwo, groupScaleBits: scaleBits)
            return (scheme, scaleDType)
        } catch QuantError.invalidScheme(let message, let name) {
            throw RecipeError(field(name ?? "clipping"), message)
        }
    }

    /// One of the ggml types a `gguf` recipe may name (case-insensitive).
    static func ggmlType(_ value: JSONValue, _ field: String) throws -> GGMLType {
        guard let text = value.stringValue, let type = GGMLType.named(text), GGMLType.recipeTypes.contains(type) else {
            throw RecipeError(
                field, "must be one of \(GGMLType.recipeTypes.map(\.name).joined(separator: ", ")), got \(value.serialized)")
        }
        return type
    }

    enum GranularityName: String, CaseIterable { case tensor, channel, group }
    enum ScaleConstraint: String, CaseIterable {
        case none
        case powerOfTwo = "power_of_two"
    }

    static func enumValue<T: RawRepresentable & CaseIterable>(
        _ value: JSONValue, _: T.Type, _ field: String, uppercase: Bool = false
    ) throws -> T where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = value.stringValue, let result = T(rawValue: uppercase ? text.uppercased() : text) else {
            throw RecipeError(field, "must be one of \(allowed), got \(value.serialized)")
        }
        return result
    }

    static func integer(_ value: JSONValue, _ field: String, range: ClosedRange<Int>) throws -> Int {
        guard let number = value.intValue, range.contains(number) else {
            throw RecipeError(
                field, "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(value.serialized)")
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
            throw RecipeError(
                field, "must be {\"method\": \"minmax\" | \"percentile\" | \"mse\" | \"kl\"}, got \(value.serialized)")
        }
        let allowed: [String: [String]] = [
            "minmax": ["method"], "percentile": ["method", "percentile"], "mse": ["method", "steps"], "kl": ["method", "bins"],
        ]
        guard let fields = allowed[name] else {
            throw RecipeError("\(field).method", "must be minmax, percentile, mse or kl, got \(name)")
        }
        for key in object.keys where !fields.contains(key) {
            throw RecipeError(
                "\(field).\(key)", "is not a field of clipping \(name) (allowed: \(fields.joined(separator: ", ")))")
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
        guard let object = value.objectValue, let name = object["method"]?.stringValue,
            ["nearest", "stochastic", "adaround"].contains(name)
        else {
            throw RecipeError(
                field,
                "must be {\"method\": \"nearest\"}, {\"method\": \"stochastic\", \"seed\": 42} or {\"method\": \"adaround\", \"dataset_id\": ..., \"iterations\": 1000}, got \(value.serialized)"
            )
        }
        if name == "adaround" {
            for key in object.keys where !["method", "dataset_id", "iterations"].contains(key) {
                throw RecipeError(
                    "\(field).\(key)", "is not a field of rounding adaround (allowed: method, dataset_id, iterations)")
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
            throw RecipeError(
                field, "must be {\"method\": \(allowed.map { "\"\($0)\"" }.joined(separator: " | "))}, got \(value.serialized)")
        }
    }
}
