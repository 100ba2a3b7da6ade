import JSON

/// A queued, running or finished job (`Job` in openapi.yaml). The server writes this shape on its
/// polling fast path (`JSONViews.write`), tested field for field against this type's encoding.
public struct Job: Codable, Sendable, Equatable {
    public struct Progress: Codable, Sendable, Equatable {
        public var done: Int64
        public var total: Int64
        /// done / total, to four decimals.
        public var fraction: Double
        /// While running: quantizing, evaluating or training.
        public var stage: String?

        public init(done: Int64, total: Int64, fraction: Double, stage: String? = nil) {
            (self.done, self.total, self.fraction, self.stage) = (done, total, fraction, stage)
        }
    }

    public struct Failure: Codable, Sendable, Equatable {
        public var code: String
        public var message: String

        public init(code: String, message: String) {
            (self.code, self.message) = (code, message)
        }
    }

    public struct Artifact: Codable, Sendable, Equatable {
        public var size: Int64
        public var sha256: String
        /// "tar" for a Hugging Face folder sent as one archive (files plus SHA256SUMS).
        public var archive: String?
        public var expiresAt: String?
        public var available: Bool

        public init(size: Int64, sha256: String, archive: String? = nil, expiresAt: String?, available: Bool) {
            (self.size, self.sha256, self.archive, self.expiresAt, self.available) = (size, sha256, archive, expiresAt, available)
        }

        enum CodingKeys: String, CodingKey {
            case size, sha256, archive, available
            case expiresAt = "expires_at"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(size, forKey: .size)
            try container.encode(sha256, forKey: .sha256)
            try container.encodeIfPresent(archive, forKey: .archive)
            try container.encode(expiresAt, forKey: .expiresAt)
            try container.encode(available, forKey: .available)
        }
    }

    public var id: String
    public var modelId: String
    /// The calibration dataset the recipe names, if any (QAT: the training data).
    public var datasetId: String?
    /// "qat" or "evaluate"; absent for quantize jobs.
    public var kind: String?
    public var name: String?
    /// queued, running, succeeded, failed or cancelled.
    public var status: String
    public var progress: Progress
    /// The resolved recipe; for an evaluate job its request ({evaluation, candidate}).
    public var recipe: JSONValue
    public var attempt: Int
    public var maxAttempts: Int
    public var createdAt: String
    public var startedAt: String?
    public var finishedAt: String?
    public var updatedAt: String
    public var error: Failure?
    public var summary: JobSummary?
    public var links: Links
    public var artifact: Artifact?

    public init(
        id: String, modelId: String, datasetId: String? = nil, kind: String? = nil, name: String?, status: String,
        progress: Progress, recipe: JSONValue, attempt: Int, maxAttempts: Int, createdAt: String, startedAt: String?,
        finishedAt: String?, updatedAt: String, error: Failure?, summary: JobSummary?, links: Links, artifact: Artifact? = nil
    ) {
        self.id = id
        self.modelId = modelId
        self.datasetId = datasetId
        self.kind = kind
        self.name = name
        self.status = status
        self.progress = progress
        self.recipe = recipe
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.updatedAt = updatedAt
        self.error = error
        self.summary = summary
        self.links = links
        self.artifact = artifact
    }

    public var isTerminal: Bool { ["succeeded", "failed", "cancelled"].contains(status) }

    enum CodingKeys: String, CodingKey {
        case id, kind, name, status, progress, recipe, attempt, error, summary, links, artifact
        case modelId = "model_id"
        case datasetId = "dataset_id"
        case maxAttempts = "max_attempts"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case updatedAt = "updated_at"
    }

    /// Required fields that may be null are written as null, not left out (openapi's `required`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(modelId, forKey: .modelId)
        try container.encodeIfPresent(datasetId, forKey: .datasetId)
        try container.encodeIfPresent(kind, forKey: .kind)
        try container.encode(name, forKey: .name)
        try container.encode(status, forKey: .status)
        try container.encode(progress, forKey: .progress)
        try container.encode(recipe, forKey: .recipe)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(maxAttempts, forKey: .maxAttempts)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(error, forKey: .error)
        try container.encode(summary, forKey: .summary)
        try container.encode(links, forKey: .links)
        try container.encodeIfPresent(artifact, forKey: .artifact)
    }
}

/// `GET /v1/jobs`: newest first; `nextCursor` names the page after this one (null on the last).
public struct JobPage: Codable, Sendable, Equatable {
    public var jobs: [Job]
    public var nextCursor: String?

    public init(jobs: [Job], nextCursor: String?) {
        (self.jobs, self.nextCursor) = (jobs, nextCursor)
    }

    enum CodingKeys: String, CodingKey {
        case jobs
        case nextCursor = "next_cursor"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jobs, forKey: .jobs)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

/// The body of `POST /v1/jobs`: a quantization (kind absent or quantize), a QAT job (kind qat, with
/// `training`), or an evaluation (kind evaluate, with `candidate` and `evaluation`).
public struct JobRequest: Codable, Sendable, Equatable {
    /// The model to compare with: another model, or a succeeded job's artifact.
    public struct Candidate: Codable, Sendable, Equatable {
        public var modelId: String?
        public var jobId: String?

        public init(modelId: String? = nil, jobId: String? = nil) {
            (self.modelId, self.jobId) = (modelId, jobId)
        }

        enum CodingKeys: String, CodingKey {
            case modelId = "model_id"
            case jobId = "job_id"
        }
    }

    public var modelId: String
    public var kind: String?
    public var name: String?
    /// docs/RECIPES.md; `{"preset": "int8"}` at its simplest.
    public var recipe: JSONValue?
    /// kind qat: docs/QAT.md.
    public var training: JSONValue?
    public var candidate: Candidate?
    /// kind evaluate: {dataset_id, chunks, context}.
    public var evaluation: JSONValue?

    public init(
        modelId: String, kind: String? = nil, name: String? = nil, recipe: JSONValue? = nil, training: JSONValue? = nil,
        candidate: Candidate? = nil, evaluation: JSONValue? = nil
    ) {
        (self.modelId, self.kind, self.name, self.recipe, self.training, self.candidate, self.evaluation) = (
            modelId, kind, name, recipe, training, candidate, evaluation
        )
    }

    enum CodingKeys: String, CodingKey {
        case kind, name, recipe, training, candidate, evaluation
        case modelId = "model_id"
    }
}
