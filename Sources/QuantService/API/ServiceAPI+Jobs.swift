import Digest
import Foundation
import HTTPServer
import JSON
import ModelFormats
import QuantCore
import QuantStore

extension ServiceAPI {
    func addJobs(_ router: inout Router) {
        router.add(.post, "/v1/jobs") { [self] request, body in
            let scope = try scope(request)
            let bytes = try body.collect(limit: config.maxJSONBytes)
            switch try JobSubmission.parse(bytes) {
            case .evaluation(let object): return try submitEvaluation(object, scope: scope, request: request, bytes: bytes)
            case .job(let submission): return try submit(submission, bytes: bytes, scope: scope, request: request)
            }
        }
        router.add(.get, "/v1/jobs") { [self] request, _ in
            let scope = try scope(request)
            let query = request.query
            var state: JobState?
            if let status = query["status"] {
                guard let parsed = JobState(rawValue: status) else {
                    throw HTTPError(400, "status must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                state = parsed
            }
            let limit = try Self.limit(request, default: 50)
            let jobs = try Self.run {
                try scope.jobs(state: state, modelID: query["model_id"], limit: limit, cursor: query["cursor"])
            }
            return .json(200, bytes: JSONViews.jobListBytes(jobs, nextCursor: jobs.count == limit ? jobs.last?.id : nil))
        }
        router.add(.get, "/v1/jobs/{id}", inline: lookupsAreLocal) { [store] request, _ in
            let id = request.pathParameters["id"] ?? ""
            switch try Self.run({ try store.poll(job: id, key: Self.bearerKey(request) ?? "") }) {
            case .job(let job): return .json(200, bytes: JSONViews.jobBytes(job))
            case .unauthorized: throw Self.unauthorized
            case .notFound: throw HTTPError(404, "job \(id) does not exist", type: "not-found")
            }
        }
        router.add(.get, "/v1/jobs/{id}/report") { [self] request, _ in
            let scope = try scope(request)
            let id = request.pathParameters["id"] ?? ""
            let job = try Self.run { try scope.job(id) }
            guard job.state == .succeeded else {
                throw HTTPError(409, "job \(id) is \(job.state.rawValue); the report exists once it succeeds", type: "not-ready")
            }
            let tensors = try Self.run { try scope.metrics(of: id) }.map { JSONValue.fragment($0.report) }
            var report = JSONObject([
                ("job_id", .string(id)), ("kind", .string(job.kind)), ("summary", job.summary.map { .fragment($0) } ?? .null),
                ("tensors", .array(tensors)),
            ])
            if job.kind == "qat" {
                report["training"] = try Self.trainingReport(job, epochs: Self.run { try scope.epochs(of: id) })
            }
            // The evaluation is stored with the summary (recipe.evaluation).
            if let summary = job.summary, let evaluation = (try? StrictJSON.parse(summary))?.objectValue?["evaluation"] {
                report["evaluation"] = evaluation
            }
            return Self.json(200, .object(report))
        }
        router.add(.get, "/v1/jobs/{id}/artifact") { [self] request, _ in
            let id = request.pathParameters["id"] ?? ""
            let job = try Self.run { try scope(request).job(id) }
            guard job.kind != "evaluate" else {
                throw HTTPError(
                    404, "job \(id) is an evaluation: its result is the summary's and report's evaluation, with no artifact",
                    type: "no-artifact")
            }
            guard job.state == .succeeded else {
                throw HTTPError(
                    409, "job \(id) is \(job.state.rawValue); the artifact exists once it succeeds", type: "not-ready")
            }
            let response = try ArtifactStore(data: data).response(for: job, request: request)
            if response.status == 200 || response.status == 206 { pool.counters.addBytesOut(response.contentLength) }
            return response
        }
        // compressed-tensors artifacts: the config.json fragment vLLM needs, read from the artifact.
        router.add(.get, "/v1/jobs/{id}/artifact/config") { [self] request, _ in
            let id = request.pathParameters["id"] ?? ""
            let job = try Self.run { try scope(request).job(id) }
            guard job.state == .succeeded else {
                throw HTTPError(
                    409, "job \(id) is \(job.state.rawValue); the artifact exists once it succeeds", type: "not-ready")
            }
            guard let path = job.artifactPath else {
                throw HTTPError(410, "the artifact of job \(id) expired and was deleted", type: "artifact-expired")
            }
            guard path.hasSuffix(".safetensors"), let fragment = try? CompressedTensors.configFragment(ofArtifact: path) else {
                throw HTTPError(
                    404,
                    "job \(id) did not write compressed-tensors (output.format); only those artifacts have a config fragment",
                    type: "no-config")
            }
            return .json(200, fragment)
        }
        router.add(.post, "/v1/jobs/{id}/cancel") { [self] request, _ in
            let job = try Self.run { try scope(request).cancel(request.pathParameters["id"] ?? "") }
            return .json(202, bytes: JSONViews.jobBytes(job))
        }
        router.add(.delete, "/v1/jobs/{id}") { [self] request, _ in
            let id = request.pathParameters["id"] ?? ""
            _ = try Self.run { try scope(request).deleteJob(id) }
            ArtifactStore(data: data).removeJob(id)
            return HTTPResponse(status: 204)
        }
    }

    /// Checks a parsed submission against what it names (the model, its dataset or training set)
    /// and queues it, or returns the job an earlier request with the same Idempotency-Key made.
    func submit(_ submission: JobSubmission, bytes: [UInt8], scope: TenantScope, request: HTTPRequest) throws -> HTTPResponse {
        let key = request.header("idempotency-key")
        if let key, key.isEmpty || key.count > 200 { throw HTTPError(400, "Idempotency-Key must be 1 to 200 characters") }
        let (training, datasetID) = try validate(submission, scope: scope)
        let (job, created) = try Self.run {
            var new = TenantScope.NewJob(
                modelID: submission.modelID, recipe: submission.recipe.json.serialized, name: submission.name,
                idempotencyKey: key,
                requestHash: SHA256.hex(SHA256.hash(bytes)), maxAttempts: config.maxAttempts, datasetID: datasetID)
            if let training {
                new.kind = "qat"
                new.training = training.json.serialized
            }
            return try scope.submit(new)
        }
        if created { pool.wake() }
        return .json(created ? 202 : 200, bytes: JSONViews.jobBytes(job), headers: [("Location", "/v1/jobs/\(job.id)")])
    }

    /// The submit-time checks (the planning path the job runner will take): the recipe applies to
    /// the model, an evaluation can run, the dataset or training set fits. Returns the training
    /// request and the dataset the job uses.
    func validate(_ submission: JobSubmission, scope: TenantScope) throws -> (TrainingSpec?, String?) {
        let recipe = submission.recipe
        let model = try Self.run { try scope.model(submission.modelID) }
        let training = try Self.trainingRequest(submission.object, recipe: recipe)
        try Self.checkApplicable(recipe, modelPath: model.blobPath)
        if let evaluation = recipe.evaluation { try Self.checkEvaluation(evaluation, modelPath: model.blobPath, scope: scope) }
        if let training {
            let dataset = try Self.run { try scope.dataset(training.datasetID) }
            try Self.checkTraining(model: model.blobPath, dataset: dataset.blobPath, recipe: recipe, training: training)
            return (training, training.datasetID)
        }
        if let datasetID = recipe.datasetID {
            let dataset = try Self.run { try scope.dataset(datasetID) }
            try Self.checkPairing(dataset: dataset.blobPath, modelPath: model.blobPath, recipe: recipe)
        }
        return (nil, recipe.datasetID)
    }

    /// A recipe that cannot apply to this model (rows not a multiple of 32, an axis out of range...)
    /// is a 422 now rather than a failed job later.
    static func checkApplicable(_ recipe: Recipe, modelPath: String) throws {
        guard let source = try? SourceModel(path: modelPath) else { return }
        do {
            _ = try Pipeline.plan(source, recipe: recipe)
        } catch let error as PipelineError {
            throw HTTPError(
                422, "recipe does not apply to this model: \(error)", type: "recipe-not-applicable",
                extensions: [("field", "recipe")])
        }
    }
}
