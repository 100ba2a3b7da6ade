import Foundation

/// One database engine's implementation of the store: every statement of the service for that
/// engine. `Store` and `TenantScope` are the public face and forward here, so routes, workers and
/// the job runner never know which engine they have. Two exist: SQLite (one file, one node) and
/// PostgreSQL (shared by several replicas).
protocol StoreBackend: Sendable {
    /// True when several processes share this database: start-up must not treat every running job
    /// as abandoned, nor every unreferenced file as garbage.
    var isShared: Bool { get }
    func isHealthy() -> Bool
    /// Seconds since 1970 (injectable, so tests can move time).
    func now() -> Double
    func backup(to path: String) throws

    // Tenants and keys
    func createTenant(name: String, maxQueuedJobs: Int, maxStorageBytes: Int64) throws -> Tenant
    func tenant(named name: String) throws -> Tenant?
    func insertKey(_ record: APIKey) throws
    func authenticate(hash: [UInt8]) throws -> (tenant: Tenant, key: APIKey)?
    func tenantID(forKeyHash hash: [UInt8]) throws -> String?
    func revokeKeys(prefix: String) throws -> Int
    func hasAdminKey() throws -> Bool
    func poll(job id: String, keyHash: [UInt8]) throws -> PolledJob

    // The queue
    func claim(worker: String, leaseSeconds: Double) throws -> Claim?
    func renewLease(job id: String, attempt: Int, worker: String, leaseSeconds: Double) throws -> LeaseStatus
    func reportProgress(job id: String, attempt: Int, done: Int64, total: Int64, stage: String?) throws -> LeaseStatus
    func complete(job id: String, attempt: Int, result: CompletedJob) throws
    func fail(job id: String, attempt: Int, code: String, message: String, transient: Bool, retryDelay: Double) throws -> JobState
    func markCancelled(job id: String, attempt: Int) throws
    func requeueAbandoned(all: Bool) throws -> [JobRecord]
    func jobCounts() throws -> [JobState: Int]
    func expireArtifacts() throws -> [String]
    func referencedFiles() throws -> Set<String>
    func jobForDiagnostics(_ id: String) throws -> JobRecord?
    func eventsForDiagnostics(_ id: String) throws -> [JobEvent]
    /// Calls `handler` whenever another process queues a job (engines that cannot tell never call).
    func onJobQueued(_ handler: @escaping @Sendable () -> Void)

    func tenant(_ tenantID: String) -> any TenantBackend
}

/// The statements of one tenant: every one filters on the tenant, and another tenant's object
/// answers exactly like a missing one.
protocol TenantBackend: Sendable {
    func addModel(_ model: TenantScope.NewModel, placeBlob: () throws -> Void) throws -> ModelRecord
    func model(_ id: String) throws -> ModelRecord
    func models(limit: Int) throws -> [ModelRecord]
    func deleteModel(_ id: String, removeBlob: (String) -> Void) throws -> TenantScope.ModelDeletion
    func submit(_ new: TenantScope.NewJob) throws -> (job: JobRecord, created: Bool)
    func job(_ id: String) throws -> JobRecord
    func jobs(state: JobState?, modelID: String?, limit: Int, cursor: String?) throws -> [JobRecord]
    func cancel(_ id: String) throws -> JobRecord
    func deleteJob(_ id: String) throws -> String?
    func events(of id: String) throws -> [JobEvent]
    func metrics(of id: String) throws -> [TensorMetricRecord]
    func epochs(of id: String) throws -> [EpochMetricRecord]
    func addDataset(_ dataset: TenantScope.NewDataset, placeBlob: () throws -> Void) throws -> DatasetRecord
    func dataset(_ id: String) throws -> DatasetRecord
    func datasets(limit: Int) throws -> [DatasetRecord]
    func deleteDataset(_ id: String, removeBlob: (String) -> Void) throws -> String?
}
