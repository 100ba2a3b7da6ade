import Foundation
import JSON
import QuantAPI

/// A client for every route of QuantService's API v1, on libcurl. Calls block the calling thread;
/// the client holds no mutable state (each call uses its own curl handle), so one instance can be
/// shared by any number of threads or tasks.
public final class QuantClient: Sendable {
    public let server: String
    public let apiKey: String?
    public let options: ClientOptions

    /// `server`: the base URL, e.g. `http://127.0.0.1:8080`.
    public init(server: String, apiKey: String?, options: ClientOptions = ClientOptions()) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.apiKey = apiKey
        self.options = options
    }

    // MARK: - Health

    /// True when `GET /healthz` answers 200.
    public func isHealthy() -> Bool {
        (try? send("GET", "/healthz", retry: false).status) == 200
    }

    // MARK: - Models

    /// Uploads a safetensors or GGUF file, streamed from disk (never loaded whole).
    public func uploadModel(path: String, name: String? = nil, progress: (@Sendable (TransferProgress) -> Void)? = nil) throws
        -> Model
    {
        try decode(Model.self, upload("/v1/models", path: path, name: name, progress: progress))
    }

    /// Streams a file to `route` (models, datasets); a checkpoint directory goes as a tar stream of
    /// its top-level files.
    func upload(_ route: String, path: String, name: String?, progress: (@Sendable (TransferProgress) -> Void)?) throws
        -> CurlResponse
    {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let files = try Self.checkpointFiles(path)
            let request = CurlRequest(
                method: "POST", url: url(route, query: [("name", name ?? URL(fileURLWithPath: path).lastPathComponent)]),
                headers: [("Content-Type", "application/x-tar")], body: .tar(directory: path, files: files))
            return try check(perform(request, retry: .connectOnly, progress: progress))
        }
        guard FileManager.default.isReadableFile(atPath: path) else { throw ClientError.file("cannot read \(path)") }
        let fileName = name ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let request = CurlRequest(
            method: "POST", url: url(route, query: [("name", fileName)]),
            headers: [("Content-Type", "application/octet-stream")], body: .file(path: path))
        // A retried upload is only safe when the first attempt never reached the server.
        return try check(perform(request, retry: .connectOnly, progress: progress))
    }

    /// The regular files directly in a checkpoint folder (subfolders are not part of a bundle).
    static func checkpointFiles(_ directory: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw ClientError.file("cannot list \(directory)")
        }
        let files = names.sorted().filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(
                atPath: (directory as NSString).appendingPathComponent(name), isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        guard !files.isEmpty else { throw ClientError.file("\(directory) holds no files") }
        return files
    }

    // MARK: - Datasets

    /// Uploads a calibration dataset (safetensors of `<layer>.input` samples), streamed from disk.
    public func uploadDataset(path: String, name: String? = nil, progress: (@Sendable (TransferProgress) -> Void)? = nil) throws
        -> Dataset
    {
        try decode(Dataset.self, upload("/v1/datasets", path: path, name: name, progress: progress))
    }

    public func datasets() throws -> [Dataset] {
        try decode(DatasetList.self, check(send("GET", "/v1/datasets"))).datasets
    }

    public func dataset(_ id: String) throws -> Dataset {
        try decode(Dataset.self, check(send("GET", "/v1/datasets/\(escape(id))")))
    }

    public func deleteDataset(_ id: String) throws {
        _ = try check(send("DELETE", "/v1/datasets/\(escape(id))"))
    }

    public func models() throws -> [Model] {
        try decode(ModelList.self, check(send("GET", "/v1/models"))).models
    }

    public func model(_ id: String) throws -> Model {
        try decode(Model.self, check(send("GET", "/v1/models/\(escape(id))")))
    }

    public func tensors(ofModel id: String) throws -> [TensorInfo] {
        try decode(TensorList.self, check(send("GET", "/v1/models/\(escape(id))/tensors"))).tensors
    }

    public func deleteModel(_ id: String) throws {
        _ = try check(send("DELETE", "/v1/models/\(escape(id))"))
    }

    // MARK: - Jobs

    /// Submits a job. `recipe` is the recipe's JSON text (`{"preset": "int8"}` or a full recipe).
    /// An `Idempotency-Key` (random unless given) goes with every attempt, so a retry after a lost
    /// answer returns the first job instead of making a second one.
    public func submitJob(modelID: String, recipeJSON: String, name: String? = nil, idempotencyKey: String = UUID().uuidString)
        throws -> Job
    {
        try submit(
            JobRequest(modelId: modelID, name: name, recipe: try object(recipeJSON, "recipe")), idempotencyKey: idempotencyKey)
    }

    /// Submits a quantization-aware training job (docs/QAT.md): `trainingJSON` holds dataset_id,
    /// epochs, batch_size, learning_rate, optimizer, seed, validation_split.
    public func submitTrainingJob(
        modelID: String, recipeJSON: String, trainingJSON: String, name: String? = nil, idempotencyKey: String = UUID().uuidString
    ) throws -> Job {
        let request = JobRequest(
            modelId: modelID, kind: "qat", name: name, recipe: try object(recipeJSON, "recipe"),
            training: try object(trainingJSON, "training"))
        return try submit(request, idempotencyKey: idempotencyKey)
    }

    /// `json` parsed, if it is an object.
    func object(_ json: String, _ what: String) throws -> JSONValue {
        guard let value = try? StrictJSON.parse(json), value.objectValue != nil else {
            throw ClientError.usage("the \(what) is not a JSON object")
        }
        return value
    }

    /// Any job request (quantize, qat, evaluate).
    public func submit(_ request: JobRequest, idempotencyKey: String = UUID().uuidString) throws -> Job {
        let response = try send(
            "POST", "/v1/jobs", body: try WireCoding.encode(request),
            headers: [("Content-Type", "application/json"), ("Idempotency-Key", idempotencyKey)])
        return try decode(Job.self, check(response))
    }

    /// Submits a job with a preset recipe.
    public func submitJob(modelID: String, preset: String, name: String? = nil) throws -> Job {
        let recipe = JSONValue.object(JSONObject([("preset", .string(preset))]))
        return try submit(JobRequest(modelId: modelID, name: name, recipe: recipe))
    }

    public func job(_ id: String) throws -> Job {
        try decode(Job.self, check(send("GET", "/v1/jobs/\(escape(id))")))
    }

    public func jobs(status: String? = nil, modelID: String? = nil, limit: Int? = nil, cursor: String? = nil) throws -> JobPage {
        var query: [(String, String)] = []
        if let status { query.append(("status", status)) }
        if let modelID { query.append(("model_id", modelID)) }
        if let limit { query.append(("limit", String(limit))) }
        if let cursor { query.append(("cursor", cursor)) }
        return try decode(JobPage.self, check(send("GET", "/v1/jobs", query: query)))
    }

    public func report(ofJob id: String) throws -> JobReport {
        try decode(JobReport.self, check(send("GET", "/v1/jobs/\(escape(id))/report")))
    }

    public func cancelJob(_ id: String) throws -> Job {
        try decode(Job.self, check(send("POST", "/v1/jobs/\(escape(id))/cancel", body: [])))
    }

    public func deleteJob(_ id: String) throws {
        _ = try check(send("DELETE", "/v1/jobs/\(escape(id))"))
    }

    /// Polls until the job ends, waiting `initialInterval` and growing it by half each poll up to
    /// `maxInterval`; `onUpdate` sees every poll. Throws `.jobFailed` unless the job succeeded, and
    /// gives up (with the job still running on the server) after `timeout` seconds.
    public func waitForJob(
        _ id: String, initialInterval: Double = 0.2, maxInterval: Double = 2, timeout: Double = 24 * 3600,
        onUpdate: ((Job) -> Void)? = nil
    ) throws -> Job {
        let deadline = Date().addingTimeInterval(timeout)
        var interval = initialInterval
        while true {
            let current = try job(id)
            onUpdate?(current)
            if current.isTerminal {
                guard current.status == "succeeded" else {
                    throw ClientError.jobFailed(
                        id: id, status: current.status, code: current.error?.code, message: current.error?.message)
                }
                return current
            }
            guard Date() < deadline else {
                throw ClientError.network(code: 28, message: "job \(id) still \(current.status) after \(Int(timeout)) s")
            }
            Thread.sleep(forTimeInterval: interval)
            interval = min(maxInterval, interval * 1.5)
        }
    }

    // MARK: - Transport

    enum RetryMode {
        case none
        /// Only when the request never reached the server (connection refused or DNS).
        case connectOnly
        /// Also on 429, 503 and any network error (the request is idempotent).
        case all
    }

    func url(_ path: String, query: [(String, String)] = []) -> String {
        guard !query.isEmpty else { return server + path }
        return server + path + "?" + query.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    func escape(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// A JSON exchange; retried (all modes) since every route but uploads is idempotent or keyed.
    func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        headers: [(name: String, value: String)] = [], retry: Bool = true
    ) throws -> CurlResponse {
        var request = CurlRequest(method: method, url: url(path, query: query), headers: headers)
        if let body { request.body = .bytes(body) }
        request.totalTimeout = options.requestTimeout
        return try perform(request, retry: retry ? .all : .none, progress: nil)
    }

    func perform(_ request: CurlRequest, retry: RetryMode, progress: (@Sendable (TransferProgress) -> Void)?) throws
        -> CurlResponse
    {
        var request = request
        if let apiKey { request.headers.append(("Authorization", "Bearer \(apiKey)")) }
        request.headers.append(("Accept", "application/json, application/problem+json"))
        var attempt = 1
        while true {
            let outcome: Result<CurlResponse, ClientError>
            do {
                outcome = .success(try CurlTransfer.perform(request, options: options, progress: progress))
            } catch let error as ClientError {
                outcome = .failure(error)
            }
            guard attempt < options.retry.maxAttempts, let wait = retryDelay(outcome, mode: retry, attempt: attempt) else {
                return try outcome.get()
            }
            Thread.sleep(forTimeInterval: wait)
            attempt += 1
        }
    }

    /// Seconds to wait before retrying, or nil when the outcome is final.
    func retryDelay(_ outcome: Result<CurlResponse, ClientError>, mode: RetryMode, attempt: Int) -> Double? {
        switch (outcome, mode) {
        case (_, .none): return nil
        case (.success(let response), .all) where response.status == 429 || response.status == 503,
            (.success(let response), .connectOnly) where response.status == 503:
            return options.retry.delay(after: attempt, retryAfter: response.header("Retry-After").flatMap(Double.init))
        case (.failure(.network(let code, _)), _):
            // curl: 6 resolve, 7 connect; with `.all` also 28 timeout, 52 empty reply, 55 send, 56 receive.
            let retryable: Set<Int> = mode == .all ? [6, 7, 28, 52, 55, 56] : [6, 7]
            return retryable.contains(code) ? options.retry.delay(after: attempt, retryAfter: nil) : nil
        default: return nil
        }
    }

    /// The response if it is a 2xx; otherwise its problem+json as a typed error.
    func check(_ response: CurlResponse) throws -> CurlResponse {
        guard !(200..<300).contains(response.status) else { return response }
        if let problem = try? WireCoding.decode(Problem.self, from: response.body) { throw ClientError.problem(problem) }
        let text = String(decoding: response.body.prefix(300), as: UTF8.self)
        throw ClientError.problem(
            Problem(type: "about:blank", title: "HTTP \(response.status)", status: response.status, detail: text, field: nil))
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: CurlResponse) throws -> T {
        do {
            return try WireCoding.decode(type, from: response.body)
        } catch {
            throw ClientError.invalidResponse("\(T.self) did not decode: \(error)")
        }
    }
}
