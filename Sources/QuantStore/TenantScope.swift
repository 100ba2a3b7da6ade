import Foundation

/// Everything a tenant may read or change. There is no accessor that forgets the tenant: every
/// statement behind these filters on `tenantID`, and another tenant's object answers exactly like a
/// missing one.
public struct TenantScope: Sendable {
    public let store: Store
    public let tenantID: String

    var backend: any TenantBackend { store.backend.tenant(tenantID) }

    public struct NewModel: Sendable {
        public var name: String
        public var format: String
        public var size: Int64
        public var sha256: String
        public var tensorCount: Int
        public var parameterCount: Int64
        public var blobPath: String

        public init(
            name: String, format: String, size: Int64, sha256: String, tensorCount: Int, parameterCount: Int64, blobPath: String
        ) {
            self.name = name
            self.format = format
            self.size = size
            self.sha256 = sha256
            self.tensorCount = tensorCount
            self.parameterCount = parameterCount
            self.blobPath = blobPath
        }
    }

    public struct NewJob: Sendable {
        public var modelID: String
        public var recipe: String
        public var name: String?
        public var idempotencyKey: String?
        /// A hash of the request body: the same key with another body is a conflict.
        public var requestHash: String?
        public var maxAttempts: Int
        /// The calibration dataset the recipe names (checked to belong to the tenant); for QAT the
        /// training data.
        public var datasetID: String?
        /// "quantize" or "qat" (with its training request as JSON).
        public var kind = "quantize"
        public var training: String?

        public init(
            modelID: String, recipe: String, name: String? = nil, idempotencyKey: String? = nil, requestHash: String? = nil,
            maxAttempts: Int = 3,
            datasetID: String? = nil
        ) {
            self.datasetID = datasetID
            self.modelID = modelID
            self.recipe = recipe
            self.name = name
            self.idempotencyKey = idempotencyKey
            self.requestHash = requestHash
            self.maxAttempts = maxAttempts
        }
    }

    public struct NewDataset: Sendable {
        public var name: String
        public var size: Int64
        public var sha256: String
        public var tensorCount: Int
        public var blobPath: String

        public init(name: String, size: Int64, sha256: String, tensorCount: Int, blobPath: String) {
            self.name = name
            self.size = size
            self.sha256 = sha256
            self.tensorCount = tensorCount
            self.blobPath = blobPath
        }
    }

    // MARK: - Models

    /// Records a model. `placeBlob` puts its file at `blobPath` inside the same transaction, under
    /// the lock that deletions of that blob take: a delete elsewhere cannot remove the file between
    /// the check that the content is already stored and the new row that names it.
    public func addModel(_ model: NewModel, placeBlob: () throws -> Void = {}) throws -> ModelRecord {
        try backend.addModel(model, placeBlob: placeBlob)
    }
    public func model(_ id: String) throws -> ModelRecord { try backend.model(id) }
    public func models(limit: Int = 100) throws -> [ModelRecord] { try backend.models(limit: limit) }

    /// What deleting a model removed: its blob's path, when no other row named it (the file is gone
    /// already), and the ids of its finished jobs, which went with it (their artifacts are the
    /// caller's to remove, after the commit).
    public struct ModelDeletion: Sendable, Equatable {
        public let blobPath: String?
        public let jobIDs: [String]
    }

    /// Deletes a model and its finished jobs; a conflict while unfinished jobs use it. When no other
    /// model or dataset (of any tenant) names its blob, `removeBlob` removes the file inside the
    /// transaction, under the blob's lock.
    @discardableResult
    public func deleteModel(_ id: String, removeBlob: (String) -> Void) throws -> ModelDeletion {
        try backend.deleteModel(id, removeBlob: removeBlob)
    }

    // MARK: - Jobs

    /// Queues a job, or returns the job an earlier request with the same Idempotency-Key made.
    public func submit(_ new: NewJob) throws -> (job: JobRecord, created: Bool) { try backend.submit(new) }
    public func job(_ id: String) throws -> JobRecord { try backend.job(id) }

    /// Newest first; `cursor` is the id of the last job of the previous page.
    public func jobs(state: JobState? = nil, modelID: String? = nil, limit: Int = 50, cursor: String? = nil) throws -> [JobRecord]
    {
        try backend.jobs(state: state, modelID: modelID, limit: limit, cursor: cursor)
    }

    /// Cancels a job: a queued one at once; a running one is flagged and its worker stops at the next
    /// chunk. Finished jobs are a conflict.
    public func cancel(_ id: String) throws -> JobRecord { try backend.cancel(id) }

    /// Deletes a finished job (its artifact path is returned for the caller to remove).
    public func deleteJob(_ id: String) throws -> String? { try backend.deleteJob(id) }
    public func events(of id: String) throws -> [JobEvent] { try backend.events(of: id) }
    public func metrics(of id: String) throws -> [TensorMetricRecord] { try backend.metrics(of: id) }
    /// QAT: the metrics of every epoch, in order.
    public func epochs(of id: String) throws -> [EpochMetricRecord] { try backend.epochs(of: id) }

    // MARK: - Calibration datasets (uploaded, listed and deleted like models, under the same quota)

    /// Records a dataset; `placeBlob` as for `addModel`.
    public func addDataset(_ dataset: NewDataset, placeBlob: () throws -> Void = {}) throws -> DatasetRecord {
        try backend.addDataset(dataset, placeBlob: placeBlob)
    }
    public func dataset(_ id: String) throws -> DatasetRecord { try backend.dataset(id) }
    public func datasets(limit: Int = 100) throws -> [DatasetRecord] { try backend.datasets(limit: limit) }

    /// Deletes a dataset; a conflict while queued or running jobs use it. Finished jobs keep their
    /// artifacts and reports (their reference is cleared). `removeBlob` as for `deleteModel`.
    @discardableResult
    public func deleteDataset(_ id: String, removeBlob: (String) -> Void) throws -> String? {
        try backend.deleteDataset(id, removeBlob: removeBlob)
    }
}
