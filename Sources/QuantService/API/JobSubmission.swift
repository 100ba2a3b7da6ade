import HTTPServer
import JSON
import ModelFormats
import QuantCore

/// A `POST /v1/jobs` body checked for shape: JSON, known fields, a model id, a recipe that parses.
/// A pure function of the bytes (nothing looked up), so its errors are tested without a server.
struct JobSubmission {
    let object: JSONObject
    let modelID: String
    let recipe: Recipe
    let name: String?

    enum Parsed {
        case job(JobSubmission)
        /// `kind: "evaluate"`: its own request shape (`EvaluationJob`).
        case evaluation(JSONObject)
    }

    static let fields = ["model_id", "recipe", "name", "kind", "training"]

    static func parse(_ bytes: [UInt8]) throws -> Parsed {
        let object: JSONObject
        do {
            guard let parsed = try bytes.withUnsafeBytes({ try StrictJSON.parse($0) }).objectValue else {
                throw HTTPError(400, "the body must be a JSON object {\"model_id\", \"recipe\"}", type: "invalid-json")
            }
            object = parsed
        } catch let error as JSONError {
            throw HTTPError(400, "the body is not valid JSON: \(error.message)", type: "invalid-json")
        }
        if object["kind"]?.stringValue == "evaluate" { return .evaluation(object) }
        for key in object.keys where !fields.contains(key) {
            throw HTTPError(
                422, "unknown field '\(key)' (allowed: \(fields.joined(separator: ", ")))", type: "invalid-request",
                extensions: [("field", key)])
        }
        guard let modelID = object["model_id"]?.stringValue else {
            throw HTTPError(
                422, "model_id is required (a model id from POST /v1/models)", type: "invalid-request",
                extensions: [("field", "model_id")])
        }
        guard let recipeValue = object["recipe"] else {
            throw HTTPError(
                422, "recipe is required, e.g. {\"preset\": \"int8\"}", type: "invalid-recipe", extensions: [("field", "recipe")])
        }
        do {
            return .job(
                JobSubmission(
                    object: object, modelID: modelID, recipe: try Recipe.parse(recipeValue), name: object["name"]?.stringValue))
        } catch let error as RecipeError {
            throw HTTPError(
                422, "recipe: \(error)", type: "invalid-recipe",
                extensions: [("field", "recipe" + (error.field.isEmpty ? "" : "." + error.field))])
        }
    }
}
