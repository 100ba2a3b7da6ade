import HTTPServer
import JSON
import ModelFormats
import QuantCore

/// A job of kind "evaluate": the job's model (the original, a Hugging Face checkpoint) against a
/// candidate on a text dataset, with no artifact. The candidate is another model of the tenant's
/// (a GGUF, a safetensors file or a checkpoint) or the artifact of a finished quantization job.
/// Stored as the job's recipe: `{"evaluation": {...}, "candidate": {"model_id" | "job_id": ...}}`.
struct EvaluationJob: Equatable {
    enum Candidate: Equatable {
        case model(String)
        case job(String)
    }

    var candidate: Candidate
    var evaluation: EvaluationSpec

    static let requestFields = ["kind", "model_id", "candidate", "evaluation", "name"]

    /// From a `POST /v1/jobs` body with `"kind": "evaluate"`; a 422 naming the field otherwise.
    static func parse(request object: JSONObject) throws -> EvaluationJob {
        for key in object.keys where !requestFields.contains(key) {
            throw HTTPError(
                422, "unknown field '\(key)' for an evaluate job (allowed: \(requestFields.joined(separator: ", ")))",
                type: "invalid-request", extensions: [("field", key)])
        }
        guard let value = object["evaluation"] else {
            throw HTTPError(
                422, "an evaluate job needs evaluation: {\"dataset_id\": ..., \"chunks\": 8, \"context\": 512}",
                type: "invalid-request", extensions: [("field", "evaluation")])
        }
        let evaluation: EvaluationSpec
        do { evaluation = try EvaluationSpec.parse(value) } catch let error as RecipeError {
            throw HTTPError(422, "\(error)", type: "invalid-request", extensions: [("field", error.field)])
        }
        return EvaluationJob(candidate: try candidate(object["candidate"]), evaluation: evaluation)
    }

    static func candidate(_ value: JSONValue?) throws -> Candidate {
        let field: [(String, String)] = [("field", "candidate")]
        guard let object = value?.objectValue, object.count == 1 else {
            throw HTTPError(
                422,
                "candidate must be {\"model_id\": ...} (a model to compare with) or {\"job_id\": ...} (a finished job's artifact)",
                type: "invalid-request", extensions: field)
        }
        if let id = object["model_id"]?.stringValue { return .model(id) }
        if let id = object["job_id"]?.stringValue { return .job(id) }
        throw HTTPError(
            422, "candidate must be {\"model_id\": ...} or {\"job_id\": ...}", type: "invalid-request", extensions: field)
    }

    /// The stored form (the job's recipe column).
    var json: JSONValue {
        let reference: (String, JSONValue) =
            switch candidate {
            case .model(let id): ("model_id", .string(id))
            case .job(let id): ("job_id", .string(id))
            }
        return .object(JSONObject([("evaluation", evaluation.json), ("candidate", .object(JSONObject([reference])))]))
    }

    /// Reads the stored form back.
    static func stored(_ text: String) throws -> EvaluationJob {
        let object = try StrictJSON.parse(text).objectValue ?? JSONObject()
        guard let evaluation = object["evaluation"] else {
            throw FormatError(.invalidConfig, "the evaluate job's request has no evaluation")
        }
        return EvaluationJob(candidate: try candidate(object["candidate"]), evaluation: try EvaluationSpec.parse(evaluation))
    }
}
