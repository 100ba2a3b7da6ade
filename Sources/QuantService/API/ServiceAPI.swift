import Digest
import Foundation
import HTTPServer
import ModelFormats
import QuantCore
import QuantStore

/// API v1 of QuantService on the generic HTTP server: routes, authentication, errors as
/// problem+json. Handlers are thin: they translate HTTP to the store and the workers and back.
public final class ServiceAPI: Sendable {
    public let store: Store
    public let data: DataDirectory
    public let pool: WorkerPool
    public let config: ServiceConfig
    public let metrics: HTTPMetrics

    public init(store: Store, data: DataDirectory, pool: WorkerPool, config: ServiceConfig) {
        ProblemType.setBase("https://quantservice.dev/problems/")
        self.store = store
        self.data = data
        self.pool = pool
        self.config = config
        metrics = HTTPMetrics()
    }

    /// The tenant id of the request's API key, attached by the router's guard.
    enum AuthenticatedTenant: RequestContextKey { typealias Value = String }

    /// Routes answered without a key: health, metrics, and the console's own files (the console
    /// then sends the key it is given with every API call).
    static let openRoutes: Set<String> = Set(["/healthz", "/readyz", "/metrics", "/"] + consoleFiles.keys.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })

    public func router() -> Router {
        var router = Router()
        let store = store, metrics = metrics
        router.guardRequest = { request, pattern in
            guard !ServiceAPI.openRoutes.contains(pattern), !ServiceAPI.authenticatesItself(request.method, pattern) else { return }
            request.context[AuthenticatedTenant.self] = try ServiceAPI.authenticate(request, store: store)
        }
        router.expectation = { request in
            // Authenticate (and check the declared size) before inviting a large body.
            do {
                _ = try ServiceAPI.authenticate(request, store: store)
                return nil
            } catch let error as HTTPError {
                return error.response
            } catch {
                return ServiceAPI.unauthorized.response
            }
        }
        router.observer = { request, response, seconds, pattern in metrics.observe(route: pattern, status: response.status, seconds: seconds) }
        addHealth(&router)
        addConsole(&router)
        addModels(&router)
        addDatasets(&router)
        addJobs(&router)
        return router
    }

    /// Lookups by id may run on the connection's event loop only when they read a local SQLite file
    /// (microseconds). On PostgreSQL they wait for a round trip, or for a network timeout when the
    /// link is cut, and would stall every connection on that loop.
    var lookupsAreLocal: Bool { !store.isShared }

    static let unauthorized = HTTPError(
        401, "send a valid API key as `Authorization: Bearer <key>`", type: "unauthorized", headers: [("WWW-Authenticate", "Bearer")])

    /// The tenant id of the request's key. Unknown, revoked and malformed keys all get the same 401;
    /// a database that cannot be reached is a 503, so clients retry instead of doubting their key.
    static func authenticate(_ request: HTTPRequest, store: Store) throws -> String {
        guard let key = bearerKey(request) else { throw unauthorized }
        let tenant: String?
        do { tenant = try store.tenantID(forKey: key) } catch { throw http(error) }
        guard let tenant else { throw unauthorized }
        return tenant
    }

    static func bearerKey(_ request: HTTPRequest) -> String? {
        guard let header = request.header("authorization"), header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst(7).trimmingBlanks())
    }

    /// Polling a job checks its key in the same statement as the lookup (`Store.poll`).
    static func authenticatesItself(_ method: String, _ pattern: String) -> Bool {
        pattern == "/v1/jobs/{id}" && (method == "GET" || method == "HEAD")
    }

    func scope(_ request: HTTPRequest) throws -> TenantScope {
        guard let tenant = request.context[AuthenticatedTenant.self] else { throw Self.unauthorized }
        return store.scope(tenant)
    }

    /// Store errors as HTTP: another tenant's objects are plain 404s.
    static func http(_ error: any Error) -> any Error {
        switch error {
        case let error as HTTPError: return error
        case StoreError.notFound(let what): return HTTPError(404, "\(what) does not exist", type: "not-found")
        case StoreError.conflict(let message): return HTTPError(409, message, type: "conflict")
        case StoreError.idempotencyConflict(let key):
            return HTTPError(422, "Idempotency-Key '\(key)' was already used with a different request body; use a new key", type: "idempotency-conflict")
        case StoreError.quotaExceeded(let message): return HTTPError(429, message, type: "quota-exceeded", headers: [("Retry-After", "30")])
        case StoreError.invalid(let message): return HTTPError(400, message, type: "invalid-request")
        case StoreError.unavailable(let message):
            return HTTPError(503, message, type: "database-unavailable", headers: [("Retry-After", "5")])
        default: return error
        }
    }

    static func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw http(error) }
    }

    static func json(_ status: Int, _ value: JSONValue, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        .json(status, bytes: value.serializedBytes, headers: headers)
    }

    static func parseJSON(_ body: RequestBody, limit: Int) throws -> JSONObject {
        let bytes = try body.collect(limit: limit)
        let value: JSONValue
        do {
            value = try bytes.withUnsafeBytes { try StrictJSON.parse($0) }
        } catch let error as FormatError {
            throw HTTPError(400, "the body is not valid JSON: \(error.message)", type: "invalid-json")
        }
        guard let object = value.objectValue else { throw HTTPError(400, "the body must be a JSON object", type: "invalid-json") }
        return object
    }

    // MARK: - Health and metrics

    func addHealth(_ router: inout Router) {
        router.add("GET", "/healthz", inline: true) { _, _ in .json(200, #"{"status":"ok"}"#) }
        let store = store, data = data
        router.add("GET", "/readyz") { _, _ in
            let database = store.isHealthy()
            let writable = access(data.artifacts, W_OK) == 0 && access(data.tmp, W_OK) == 0
            let body = #"{"status":"\#(database && writable ? "ready" : "unavailable")","database":\#(database),"data_directory":\#(writable)}"#
            return .json(database && writable ? 200 : 503, body)
        }
        router.add("GET", "/metrics") { [self] _, _ in
            .text(200, metrics.render(store: store, counters: pool.counters, replica: pool.identity), contentType: "text/plain; version=0.0.4")
        }
    }

    // MARK: - Models

    func addModels(_ router: inout Router) {
        let uploads = UploadReceiver(data: data, counters: pool.counters)
        router.add("POST", "/v1/models", bodyLimit: config.maxUploadBytes) { [self] request, body in
            let scope = try scope(request)
            let name = try Self.uploadName(request, default: "model")
            let model = try Self.run { try uploads.receive(request, body: body, name: name, scope: scope, maxBytes: config.maxUploadBytes) }
            return Self.json(201, JSONViews.model(model), headers: [("Location", "/v1/models/\(model.id)")])
        }
        router.add("GET", "/v1/models") { [self] request, _ in
            let scope = try scope(request)
            let limit = try Self.limit(request, default: 100)
            let models = try Self.run { try scope.models(limit: limit) }
            return Self.json(200, .object(JSONObject([("models", .array(models.map(JSONViews.model)))])))
        }
        router.add("GET", "/v1/models/{id}", inline: lookupsAreLocal) { [self] request, _ in
            let model = try Self.run { try scope(request).model(request.pathParameters["id"] ?? "") }
            return Self.json(200, JSONViews.model(model))
        }
        router.add("GET", "/v1/models/{id}/tensors") { [self] request, _ in
            let model = try Self.run { try scope(request).model(request.pathParameters["id"] ?? "") }
            let source = try Self.run { try SourceModel(path: model.blobPath) }
            let tensors = source.tensors.map { t in
                JSONValue.object(JSONObject([("name", .string(t.name)), ("dtype", .string(t.dtypeName)), ("shape", .array(t.shape.map { .integer($0) })), ("bytes", .integer(t.byteRange.count))]))
            }
            return Self.json(200, .object(JSONObject([("model_id", .string(model.id)), ("tensors", .array(tensors))])))
        }
        router.add("DELETE", "/v1/models/{id}") { [self] request, _ in
            _ = try Self.run { try scope(request).deleteModel(request.pathParameters["id"] ?? "", removeBlob: BlobStore.remove) }
            return HTTPResponse(status: 204)
        }
    }

    // MARK: - Jobs

    func addJobs(_ router: inout Router) {
        router.add("POST", "/v1/jobs") { [self] request, body in
            let scope = try scope(request)
            let bytes = try body.collect(limit: config.maxJSONBytes)
            let object: JSONObject
            do {
                guard let parsed = try bytes.withUnsafeBytes({ try StrictJSON.parse($0) }).objectValue else {
                    throw HTTPError(400, "the body must be a JSON object {\"model_id\", \"recipe\"}", type: "invalid-json")
                }
                object = parsed
            } catch let error as FormatError {
                throw HTTPError(400, "the body is not valid JSON: \(error.message)", type: "invalid-json")
            }
            if object["kind"]?.stringValue == "evaluate" { return try submitEvaluation(object, scope: scope, request: request, bytes: bytes) }
            for key in object.keys where !["model_id", "recipe", "name", "kind", "training"].contains(key) {
                throw HTTPError(422, "unknown field '\(key)' (allowed: model_id, recipe, name, kind, training)", type: "invalid-request", extensions: [("field", key)])
            }
            guard let modelID = object["model_id"]?.stringValue else {
                throw HTTPError(422, "model_id is required (a model id from POST /v1/models)", type: "invalid-request", extensions: [("field", "model_id")])
            }
            guard let recipeValue = object["recipe"] else {
                throw HTTPError(422, "recipe is required, e.g. {\"preset\": \"int8\"}", type: "invalid-recipe", extensions: [("field", "recipe")])
            }
            let recipe: Recipe
            do {
                recipe = try Recipe.parse(recipeValue)
            } catch let error as RecipeError {
                throw HTTPError(422, "recipe: \(error)", type: "invalid-recipe", extensions: [("field", "recipe" + (error.field.isEmpty ? "" : "." + error.field))])
            }
            let name = object["name"]?.stringValue
            let model = try Self.run { try scope.model(modelID) }
            let training = try Self.trainingRequest(object, recipe: recipe)
            try Self.checkApplicable(recipe, modelPath: model.blobPath)
            if let evaluation = recipe.evaluation { try Self.checkEvaluation(evaluation, modelPath: model.blobPath, scope: scope) }
            var datasetID = recipe.datasetID
            if let training {
                datasetID = training.datasetID
                let dataset = try Self.run { try scope.dataset(training.datasetID) }
                try Self.checkTraining(model: model.blobPath, dataset: dataset.blobPath, recipe: recipe, training: training)
            } else if let datasetID {
                let dataset = try Self.run { try scope.dataset(datasetID) }
                try Self.checkPairing(dataset: dataset.blobPath, modelPath: model.blobPath, recipe: recipe)
            }
            let key = request.header("idempotency-key")
            if let key, key.isEmpty || key.count > 200 { throw HTTPError(400, "Idempotency-Key must be 1 to 200 characters") }
            let (job, created) = try Self.run {
                var new = TenantScope.NewJob(
                    modelID: modelID, recipe: recipe.json.serialized, name: name, idempotencyKey: key,
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
        router.add("GET", "/v1/jobs") { [self] request, _ in
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
        router.add("GET", "/v1/jobs/{id}", inline: lookupsAreLocal) { [store] request, _ in
            let id = request.pathParameters["id"] ?? ""
            switch try Self.run({ try store.poll(job: id, key: Self.bearerKey(request) ?? "") }) {
            case .job(let job): return .json(200, bytes: JSONViews.jobBytes(job))
            case .unauthorized: throw Self.unauthorized
            case .notFound: throw HTTPError(404, "job \(id) does not exist", type: "not-found")
            }
        }
        router.add("GET", "/v1/jobs/{id}/report") { [self] request, _ in
            let scope = try scope(request)
            let id = request.pathParameters["id"] ?? ""
            let job = try Self.run { try scope.job(id) }
            guard job.state == .succeeded else { throw HTTPError(409, "job \(id) is \(job.state.rawValue); the report exists once it succeeds", type: "not-ready") }
            let tensors = try Self.run { try scope.metrics(of: id) }.map { JSONValue.fragment($0.report) }
            var report = JSONObject([
                ("job_id", .string(id)), ("kind", .string(job.kind)), ("summary", job.summary.map { .fragment($0) } ?? .null), ("tensors", .array(tensors)),
            ])
            if job.kind == "qat" { report["training"] = try Self.trainingReport(job, epochs: Self.run { try scope.epochs(of: id) }) }
            // The evaluation is stored with the summary (recipe.evaluation).
            if let summary = job.summary, let evaluation = (try? StrictJSON.parse(summary))?.objectValue?["evaluation"] { report["evaluation"] = evaluation }
            return Self.json(200, .object(report))
        }
        router.add("GET", "/v1/jobs/{id}/artifact") { [self] request, _ in
            let id = request.pathParameters["id"] ?? ""
            let job = try Self.run { try scope(request).job(id) }
            guard job.kind != "evaluate" else { throw HTTPError(404, "job \(id) is an evaluation: its result is the summary's and report's evaluation, with no artifact", type: "no-artifact") }
            guard job.state == .succeeded else { throw HTTPError(409, "job \(id) is \(job.state.rawValue); the artifact exists once it succeeds", type: "not-ready") }
            let response = try ArtifactStore(data: data).response(for: job, request: request)
            if response.status == 200 || response.status == 206 { pool.counters.addBytesOut(response.contentLength) }
            return response
        }
        // compressed-tensors artifacts: the config.json fragment vLLM needs, read from the artifact.
        router.add("GET", "/v1/jobs/{id}/artifact/config") { [self] request, _ in
            let id = request.pathParameters["id"] ?? ""
            let job = try Self.run { try scope(request).job(id) }
            guard job.state == .succeeded else { throw HTTPError(409, "job \(id) is \(job.state.rawValue); the artifact exists once it succeeds", type: "not-ready") }
            guard let path = job.artifactPath else { throw HTTPError(410, "the artifact of job \(id) expired and was deleted", type: "artifact-expired") }
            guard path.hasSuffix(".safetensors"), let fragment = try? CompressedTensors.configFragment(ofArtifact: path) else {
                throw HTTPError(404, "job \(id) did not write compressed-tensors (output.format); only those artifacts have a config fragment", type: "no-config")
            }
            return .json(200, fragment)
        }
        router.add("POST", "/v1/jobs/{id}/cancel") { [self] request, _ in
            let job = try Self.run { try scope(request).cancel(request.pathParameters["id"] ?? "") }
            return .json(202, bytes: JSONViews.jobBytes(job))
        }
        router.add("DELETE", "/v1/jobs/{id}") { [self] request, _ in
            let id = request.pathParameters["id"] ?? ""
            _ = try Self.run { try scope(request).deleteJob(id) }
            ArtifactStore(data: data).removeJob(id)
            return HTTPResponse(status: 204)
        }
    }

    /// `?name=` of an upload (at most 256 characters), or `fallback`.
    static func uploadName(_ request: HTTPRequest, default fallback: String) throws -> String {
        let name = request.query["name"].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        guard name.count <= 256 else { throw HTTPError(400, "name must be at most 256 characters") }
        return name
    }

    /// `?limit=` as 1...500, or a 400 that says so.
    static func limit(_ request: HTTPRequest, default value: Int) throws -> Int {
        guard let text = request.query["limit"] else { return value }
        guard let limit = Int(text), (1...500).contains(limit) else { throw HTTPError(400, "limit must be an integer from 1 to 500, got '\(text)'") }
        return limit
    }

    /// A recipe that cannot apply to this model (rows not a multiple of 32, an axis out of range...)
    /// is a 422 now rather than a failed job later.
    static func checkApplicable(_ recipe: Recipe, modelPath: String) throws {
        guard let source = try? SourceModel(path: modelPath) else { return }
        do {
            _ = try Pipeline.plan(source, recipe: recipe)
        } catch let error as PipelineError {
            throw HTTPError(422, "recipe does not apply to this model: \(error)", type: "recipe-not-applicable", extensions: [("field", "recipe")])
        }
    }
}

extension HTTPResponse {
    var contentLength: Int64 {
        switch body {
        case .empty: 0
        case .bytes(let b): Int64(b.count)
        case .file(_, let range): range.upperBound - range.lowerBound
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (Foundation's trimmingCharacters costs more than
    /// the rest of authentication).
    func trimmingBlanks() -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return self[first...last]
    }
}
