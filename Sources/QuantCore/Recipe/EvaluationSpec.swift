import JSON
import ModelFormats

/// `"evaluation": {"dataset_id": ..., "chunks": 8, "context": 512}` in a recipe: after quantizing,
/// the job measures what the model lost on that text dataset (docs/MODELS.md): perplexity, KL
/// divergence and top-1 agreement for a decoder, embedding cosine for an encoder.
public struct EvaluationSpec: Equatable, Sendable {
    public var datasetID: String
    /// Chunks of text (decoders) or lines (encoders) evaluated, at most.
    public var chunks: Int
    /// Tokens per chunk.
    public var context: Int

    static let fields = ["dataset_id", "chunks", "context"]

    public static func parse(_ value: JSONValue) throws -> EvaluationSpec {
        let section = try RecipeSection(
            value, name: "evaluation", fields: fields, example: "{\"dataset_id\": ..., \"chunks\": 8, \"context\": 512}",
            dataset: "the id of a text dataset from POST /v1/datasets (text/plain or application/jsonl)")
        let object = section.object
        let dataset = section.datasetID
        return EvaluationSpec(
            datasetID: dataset,
            chunks: try WeightSpec.integer(object["chunks"] ?? .integer(8), "evaluation.chunks", range: 1...10_000),
            context: try WeightSpec.integer(object["context"] ?? .integer(512), "evaluation.context", range: 16...32_768))
    }

    public var json: JSONValue {
        .object(JSONObject([("dataset_id", .string(datasetID)), ("chunks", .integer(chunks)), ("context", .integer(context))]))
    }
}
