import Foundation

/// A claimed job: what a worker needs to run it, and the attempt its updates must name.
public struct Claim: Sendable, Equatable {
    public let job: JobRecord
    public let model: ModelRecord
    /// The calibration dataset of the job, when its recipe names one.
    public var dataset: DatasetRecord? = nil
    public var attempt: Int { job.attempt }
}

/// What a worker learns when it renews its lease.
public enum LeaseStatus: Sendable, Equatable {
    case held
    case cancelRequested
    /// The job moved on (lease expired and re-queued, or finished): stop without writing anything.
    case lost
}

/// The finished job's artifact and report, committed in one transaction.
public struct CompletedJob: Sendable {
    /// Nil for jobs that write no artifact (evaluations).
    public var artifactPath: String?
    public var artifactSize: Int64?
    public var artifactSha256: String?
    public var summary: String
    public var tensors: [(name: String, sqnrDb: Double?, bitsPerWeight: Double?, report: String)]
    public var expiresAt: Double?
    /// QAT: per-epoch metrics, stored with the tensor metrics.
    public var epochs: [EpochMetricRecord] = []

    public init(
        artifactPath: String?, artifactSize: Int64?, artifactSha256: String?, summary: String,
        tensors: [(name: String, sqnrDb: Double?, bitsPerWeight: Double?, report: String)], expiresAt: Double?
    ) {
        self.artifactPath = artifactPath
        self.artifactSize = artifactSize
        self.artifactSha256 = artifactSha256
        self.summary = summary
        self.tensors = tensors
        self.expiresAt = expiresAt
    }
}

/// What a poll of one job finds: the job, a key that is not valid, or no such job for that key's
/// tenant (another tenant's job answers exactly like a missing one).
public enum PolledJob: Sendable {
    case job(JobRecord)
    case unauthorized
    case notFound
}

/// A freshly created key: the plaintext is shown once and never stored.
public struct CreatedKey: Sendable {
    public let plaintext: String
    public let record: APIKey
}
