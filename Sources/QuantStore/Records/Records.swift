import Foundation
import GRDB

/// A tenant: the unit of isolation. Every other record belongs to one.
public struct Tenant: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "tenants"
    public var id: String
    public var name: String
    public var createdAt: Date
    public var maxQueuedJobs: Int
    public var maxStorageBytes: Int64
    public var lastClaimedAt: Double

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
        case maxQueuedJobs = "max_queued_jobs"
        case maxStorageBytes = "max_storage_bytes"
        case lastClaimedAt = "last_claimed_at"
    }
}

/// An API key: only its SHA-256 is stored, with a short prefix to show and revoke it by.
public struct APIKey: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "api_keys"
    public var id: String
    public var tenantId: String
    public var prefix: String
    public var keyHash: Data
    public var isAdmin: Bool
    public var createdAt: Date
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id
        case tenantId = "tenant_id"
        case prefix
        case keyHash = "key_hash"
        case isAdmin = "is_admin"
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }
}

/// An uploaded model file, stored once per content hash under the data directory.
public struct ModelRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "models"
    public var id: String
    public var tenantId: String
    public var name: String
    public var format: String
    public var size: Int64
    public var sha256: String
    public var tensorCount: Int
    public var parameterCount: Int64
    public var blobPath: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id
        case tenantId = "tenant_id"
        case name, format, size, sha256
        case tensorCount = "tensor_count"
        case parameterCount = "parameter_count"
        case blobPath = "blob_path"
        case createdAt = "created_at"
    }
}

/// A quantization job.
public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "jobs"
    public var id: String
    public var tenantId: String
    public var modelId: String
    public var name: String?
    public var recipe: String
    public var state: JobState
    public var attempt: Int
    public var maxAttempts: Int
    public var leaseOwner: String?
    public var leaseExpiresAt: Double?
    public var notBefore: Double
    public var progressDone: Int64?
    public var progressTotal: Int64?
    public var cancelRequested: Bool
    public var errorCode: String?
    public var errorMessage: String?
    public var createdAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var updatedAt: Double
    public var idempotencyKey: String?
    public var requestHash: String?
    public var artifactPath: String?
    public var artifactSize: Int64?
    public var artifactSha256: String?
    public var summary: String?
    public var expiresAt: Double?
    /// The calibration dataset the recipe names, if any (for QAT: the training data).
    public var datasetId: String?
    /// "quantize", "qat" or "evaluate".
    public var kind: String = "quantize"
    /// QAT: the training request (JSON).
    public var training: String? = nil
    /// What the progress counts: "quantizing" (bytes), "evaluating" (steps) or "training" (epochs).
    public var progressStage: String? = nil

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id
        case tenantId = "tenant_id"
        case modelId = "model_id"
        case name, recipe, state, attempt
        case maxAttempts = "max_attempts"
        case leaseOwner = "lease_owner"
        case leaseExpiresAt = "lease_expires_at"
        case notBefore = "not_before"
        case progressDone = "progress_done"
        case progressTotal = "progress_total"
        case cancelRequested = "cancel_requested"
        case errorCode = "error_code"
        case errorMessage = "error_message"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case updatedAt = "updated_at"
        case idempotencyKey = "idempotency_key"
        case requestHash = "request_hash"
        case artifactPath = "artifact_path"
        case artifactSize = "artifact_size"
        case artifactSha256 = "artifact_sha256"
        case summary
        case expiresAt = "expires_at"
        case datasetId = "dataset_id"
        case kind, training
        case progressStage = "progress_stage"
    }
}

extension JobState: DatabaseValueConvertible {}

/// An uploaded calibration dataset: a safetensors file of `<layer>.input` activation samples,
/// stored by content like a model.
public struct DatasetRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "datasets"
    public var id: String
    public var tenantId: String
    public var name: String
    public var size: Int64
    public var sha256: String
    public var tensorCount: Int
    public var blobPath: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id
        case tenantId = "tenant_id"
        case name, size, sha256
        case tensorCount = "tensor_count"
        case blobPath = "blob_path"
        case createdAt = "created_at"
    }
}

/// One state change of a job.
public struct JobEvent: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job_events"
    public var id: Int64?
    public var jobId: String
    public var at: Double
    public var fromState: JobState?
    public var toState: JobState
    public var attempt: Int
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case id
        case jobId = "job_id"
        case at
        case fromState = "from_state"
        case toState = "to_state"
        case attempt, reason
    }
}

/// The report line of one tensor of a finished job (JSON as in docs/RECIPES.md).
public struct TensorMetricRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "tensor_metrics"
    public var jobId: String
    public var position: Int
    public var name: String
    public var sqnrDb: Double?
    public var bitsPerWeight: Double?
    public var report: String

    enum CodingKeys: String, CodingKey {
        case jobId = "job_id"
        case position, name
        case sqnrDb = "sqnr_db"
        case bitsPerWeight = "bits_per_weight"
        case report
    }
}

/// One epoch of a QAT job.
public struct EpochMetricRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job_epochs"
    public var jobId: String
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double
    public var validationAccuracy: Double?
    public var seconds: Double

    public init(
        jobId: String, epoch: Int, trainLoss: Double, validationLoss: Double, validationAccuracy: Double?, seconds: Double
    ) {
        self.jobId = jobId
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case jobId = "job_id"
        case epoch
        case trainLoss = "train_loss"
        case validationLoss = "validation_loss"
        case validationAccuracy = "validation_accuracy"
        case seconds
    }
}
