import JSON
import ModelFormats

/// `"activations"`: how the inputs of linear layers are quantized at run time.
/// - `{"mode": "static", "dataset_id", "calibrator": "minmax" | "percentile" | "mse" | "kl", "bits": 8,
///   "symmetric": true}`: one scale (and zero point) per layer, computed from the dataset's samples and
///   stored as `<layer>.input_scale` (and `<layer>.input_zero_point`).
/// - `{"mode": "dynamic"}`: nothing stored; the runtime takes a scale per token (row) from its absmax.
///   An optional `dataset_id` evaluates every layer on that dataset in the report.
public struct ActivationSpec: Equatable, Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case staticScales = "static"
        case dynamic
    }

    public let mode: Mode
    public let datasetID: String?
    /// The range rule (static): clipping methods applied to all of a layer's samples as one range.
    public let calibrator: ClippingMethod
    public let bits: Int
    public let symmetric: Bool

    /// Static: the parameters' scheme (one range over all samples).
    func scheme(values: Int) throws -> LinearScheme {
        try LinearScheme(bits: bits, symmetric: symmetric, granularity: .group(size: Swift.max(values, 1)), clipping: calibrator)
    }

    public var json: JSONValue {
        var object = JSONObject([("mode", .string(mode.rawValue))])
        if mode == .staticScales {
            object["dataset_id"] = datasetID.map { .string($0) } ?? .null
            object["calibrator"] = .string(calibrator.name)
            if case .percentile(let p) = calibrator { object["percentile"] = .number(String(p)) }
            object["bits"] = .integer(bits)
            object["symmetric"] = .bool(symmetric)
        } else {
            if let datasetID { object["dataset_id"] = .string(datasetID) }
            object["granularity"] = .string("token")
            object["bits"] = .integer(bits)
            object["symmetric"] = .bool(true)
        }
        return .object(object)
    }

    static func parse(_ value: JSONValue) throws -> ActivationSpec {
        let field = "activations"
        guard let object = value.objectValue else {
            throw RecipeError(
                field, "must be {\"mode\": \"static\", \"dataset_id\": ..., \"calibrator\": \"kl\"} or {\"mode\": \"dynamic\"}")
        }
        let mode = try WeightSpec.enumValue(object["mode"] ?? .string(""), Mode.self, "\(field).mode")
        let allowed =
            mode == .dynamic
            ? ["mode", "bits", "granularity", "symmetric", "dataset_id"]
            : ["mode", "dataset_id", "calibrator", "percentile", "bits", "symmetric"]
        for key in object.keys where !allowed.contains(key) {
            throw RecipeError(
                "\(field).\(key)", "is not a field of \(mode.rawValue) activations (allowed: \(allowed.joined(separator: ", ")))")
        }
        // The int8 GEMM is what static and dynamic activation quantization feed.
        let bits = try WeightSpec.integer(object["bits"] ?? .integer(8), "\(field).bits", range: 8...8)
        guard mode == .staticScales else {
            // Per token and symmetric is what dynamic means here (and what the resolved recipe states).
            if let granularity = object["granularity"], granularity != .string("token") {
                throw RecipeError("\(field).granularity", "dynamic activations take one scale per token: \"token\"")
            }
            if let symmetric = object["symmetric"], symmetric != .bool(true) {
                throw RecipeError("\(field).symmetric", "dynamic activations are symmetric (true)")
            }
            // A dataset is optional here: with one, the report evaluates every layer on it.
            let dataset = try object["dataset_id"].map { value -> String in
                guard let id = value.stringValue, !id.isEmpty else {
                    throw RecipeError("\(field).dataset_id", "must be a dataset id from POST /v1/datasets")
                }
                return id
            }
            return ActivationSpec(mode: .dynamic, datasetID: dataset, calibrator: .minmax, bits: bits, symmetric: true)
        }
        guard let dataset = object["dataset_id"]?.stringValue, !dataset.isEmpty else {
            throw RecipeError(
                "\(field).dataset_id", "is required for static activations: the id of a dataset from POST /v1/datasets")
        }
        let name = object["calibrator"]?.stringValue ?? "minmax"
        let calibrator: ClippingMethod
        switch name {
        case "minmax": calibrator = .minmax
        case "mse": calibrator = .mse(steps: 50)
        // TensorRT's entropy calibration: 2048 bins, 128 quantized bins at 8 bits.
        case "kl": calibrator = .kl(bins: 2048)
        case "percentile":
            let p = object["percentile"]?.doubleValue ?? 99.99
            guard p > 50, p <= 100 else {
                throw RecipeError("\(field).percentile", "must be above 50 and at most 100, e.g. 99.99")
            }
            calibrator = .percentile(p)
        default:
            throw RecipeError(
                "\(field).calibrator", "must be minmax, percentile, mse or kl, got \(object["calibrator"]?.serialized ?? "null")")
        }
        if object["percentile"] != nil, name != "percentile" {
            throw RecipeError("\(field).percentile", "applies only to calibrator 'percentile'")
        }
        let symmetric = try WeightSpec.boolean(object["symmetric"] ?? .bool(true), "\(field).symmetric")
        return ActivationSpec(mode: .staticScales, datasetID: dataset, calibrator: calibrator, bits: bits, symmetric: symmetric)
    }
}

/// GPTQ's knobs (`"method": "gptq"`): the dampening added to the Hessian's diagonal, as a fraction of
/// its mean, and whether columns go in order of decreasing Hessian diagonal (act-order).
public struct GPTQOptions: Equatable, Sendable {
    public var damping: Double = 0.01
    public var actOrder = false
    /// Columns per lazy batch update (the reference's 128).
    public var blockSize = 128

    public init() {}
}
