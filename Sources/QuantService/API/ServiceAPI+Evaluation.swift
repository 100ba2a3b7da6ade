import Digest
import Foundation
import HTTPServer
import JSON
import ModelFormats
import QuantCore
import QuantStore

/// `POST /v1/jobs` with `"kind": "evaluate"`: compares the job's model with a candidate on a text
/// dataset (EvaluationJob). Everything that can be checked before the job is queued is.
extension ServiceAPI {
    func submitEvaluation(_ object: JSONObject, scope: TenantScope, request: HTTPRequest, bytes: [UInt8]) throws -> HTTPResponse {
        let evaluation = try EvaluationJob.parse(request: object)
        guard let modelID = object["model_id"]?.stringValue else {
            throw HTTPError(
                422, "model_id is required: the original model (a Hugging Face checkpoint)", type: "invalid-request",
                extensions: [("field", "model_id")])
        }
        let model = try Self.run { try scope.model(modelID) }
        try Self.checkEvaluation(evaluation.evaluation, modelPath: model.blobPath, scope: scope)
        try Self.checkCandidate(evaluation.candidate, scope: scope)
        let key = request.header("idempotency-key")
        if let key, key.isEmpty || key.count > 200 { throw HTTPError(400, "Idempotency-Key must be 1 to 200 characters") }
        let (job, created) = try Self.run {
            var new = TenantScope.NewJob(
                modelID: modelID, recipe: evaluation.json.serialized, name: object["name"]?.stringValue, idempotencyKey: key,
                requestHash: SHA256.hex(SHA256.hash(bytes)), maxAttempts: config.maxAttempts,
                datasetID: evaluation.evaluation.datasetID)
            new.kind = "evaluate"
            return try scope.submit(new)
        }
        if created { pool.wake() }
        return .json(created ? 202 : 200, bytes: JSONViews.jobBytes(job), headers: [("Location", "/v1/jobs/\(job.id)")])
    }

    /// The candidate exists, is the tenant's, and is a file the forward pass reads: a model, or a
    /// finished job's single-file artifact.
    static func checkCandidate(_ candidate: EvaluationJob.Candidate, scope: TenantScope) throws {
        let field: [(String, String)] = [("field", "candidate")]
        switch candidate {
        case .model(let id):
            guard (try? scope.model(id)) != nil else {
                throw HTTPError(
                    422, "candidate model \(id) is not one of your models", type: "invalid-request", extensions: field)
            }
        case .job(let id):
            guard let job = try? scope.job(id) else {
                throw HTTPError(422, "candidate job \(id) is not one of your jobs", type: "invalid-request", extensions: field)
            }
            guard job.state == .succeeded, let path = job.artifactPath else {
                throw HTTPError(
                    422, "candidate job \(id) is \(job.state.rawValue) and has no artifact to evaluate; wait for it to succeed",
                    type: "invalid-request", extensions: field)
            }
            guard !path.hasSuffix(".tar") else {
                throw HTTPError(
                    422,
                    "candidate job \(id) wrote a folder (served as a tar); upload that tar as a model (POST /v1/models, Content-Type: application/x-tar) and name it by model_id",
                    type: "invalid-request", extensions: field)
            }
        }
    }
}
