import JSON
import ModelFormats

/// `"mixed_precision": {"candidates": ["int8", "int4-g128-mse", ...], "max_bits_per_weight": 4.5}`:
/// candidate schemes (presets writing safetensors) and the budget, in bits per targeted weight with
/// scales, codebooks and zero points counted.
public struct MixedPrecisionSpec: Sendable {
    public let candidates: [(name: String, spec: WeightSpec)]
    public let maxBitsPerWeight: Double
    /// A calibration dataset: layers with samples are ranked by output error (docs/CALIBRATION.md).
    public var datasetID: String? = nil

    public var json: JSONValue {
        var object = JSONObject([
            ("candidates", .array(candidates.map { .string($0.name) })),
            ("max_bits_per_weight", .number(String(maxBitsPerWeight))),
        ])
        if let datasetID { object["dataset_id"] = .string(datasetID) }
        return .object(object)
    }

    static func parse(_ value: JSONValue) throws -> MixedPrecisionSpec {
        let field = "mixed_precision"
        guard let object = value.objectValue else {
            throw RecipeError(field, "must be {\"candidates\": [preset, ...], \"max_bits_per_weight\": 4.5}")
        }
        for key in object.keys where !["candidates", "max_bits_per_weight", "dataset_id"].contains(key) {
            throw RecipeError(
                "\(field).\(key)", "is not a mixed_precision field (allowed: candidates, max_bits_per_weight, dataset_id)")
        }
        guard let names = object["candidates"]?.arrayValue?.compactMap(\.stringValue), !names.isEmpty,
            names.count == object["candidates"]?.arrayValue?.count
        else {
            throw RecipeError(
                "\(field).candidates", "must be a non-empty list of preset names, e.g. [\"int8\", \"int4-g128-mse\"]")
        }
        var candidates: [(String, WeightSpec)] = []
        for (index, name) in names.enumerated() {
            guard let preset = Preset.named(name), preset.recipe["mixed_precision"] == nil else {
                throw RecipeError(
                    "\(field).candidates[\(index)]",
                    "unknown preset '\(name)' (known: \(Preset.all.filter { $0.recipe["mixed_precision"] == nil }.map(\.name).joined(separator: ", ")))"
                )
            }
            guard preset.recipe["output"]?.objectValue?["format"]?.stringValue != "gguf" else {
                throw RecipeError(
                    "\(field).candidates[\(index)]",
                    "'\(name)' writes GGUF; mixed precision writes safetensors (use q8_0's safetensors peers such as int8)")
            }
            let spec = try WeightSpec.parse(
                preset.recipe["weights"]?.objectValue ?? JSONObject(), path: "\(field).candidates[\(index)]")
            candidates.append((preset.name, spec))
        }
        guard let budget = object["max_bits_per_weight"]?.doubleValue, budget > 0, budget <= 32 else {
            throw RecipeError(
                "\(field).max_bits_per_weight", "must be a number of bits per weight above 0 and at most 32, e.g. 4.5")
        }
        var spec = MixedPrecisionSpec(candidates: candidates, maxBitsPerWeight: budget)
        if let value = object["dataset_id"] {
            guard let id = value.stringValue, !id.isEmpty else {
                throw RecipeError("\(field).dataset_id", "must be a dataset id from POST /v1/datasets")
            }
            spec.datasetID = id
        }
        return spec
    }
}
