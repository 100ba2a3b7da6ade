import JSON
import ModelFormats

/// `"awq": {"dataset_id": ..., "grid": 20, "duo_scaling": true}` in a recipe: activation-aware
/// weight quantization (docs/CALIBRATION.md). Per-channel scales for the inputs of each group of
/// linear layers are searched on the dataset's layer inputs (captured from text, or uploaded) and
/// folded into the norm or linear layer before them, so the model computes the same function and
/// the channels that carry large activations are quantized more finely.
public struct AWQSpec: Equatable, Sendable {
    public var datasetID: String
    /// Exponents tried: ratio = i / grid for i in 0..<grid, as AutoAWQ's n_grid.
    public var grid: Int
    /// Scales from activation and weight magnitudes (s = x̄^r / w̄^(1-r)), or activations alone (x̄^r).
    public var duoScaling: Bool

    static let fields = ["dataset_id", "grid", "duo_scaling"]

    static func parse(_ value: JSONValue) throws -> AWQSpec {
        let section = try RecipeSection(
            value, name: "awq", fields: fields, example: "{\"dataset_id\": ..., \"grid\": 20}",
            dataset: "the id of a text dataset (POST /v1/datasets, text/plain or application/jsonl) or of layer inputs")
        let object = section.object
        let dataset = section.datasetID
        var duo = true
        if let given = object["duo_scaling"] {
            guard let flag = given.boolValue else {
                throw RecipeError("awq.duo_scaling", "must be true or false, got \(given.serialized)")
            }
            duo = flag
        }
        return AWQSpec(
            datasetID: dataset, grid: try WeightSpec.integer(object["grid"] ?? .integer(20), "awq.grid", range: 1...100),
            duoScaling: duo)
    }

    public var json: JSONValue {
        .object(JSONObject([("dataset_id", .string(datasetID)), ("grid", .integer(grid)), ("duo_scaling", .bool(duoScaling))]))
    }
}
