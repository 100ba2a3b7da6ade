import Foundation

/// The job queue: claims, leases, progress and the terminal writes of workers. Every write that a
/// worker makes names its attempt, so a worker whose lease was lost changes nothing.
extension Store {
    /// Claims the next job fairly: round-robin over tenants (the tenant served longest ago first),
    /// then the tenant's oldest job. One transaction sets running, the lease and attempt + 1.
    public func claim(worker: String, leaseSeconds: Double) throws -> Claim? {
        try backend.claim(worker: worker, leaseSeconds: leaseSeconds)
    }

    /// Extends the lease of a running attempt; reports a cancel request or a lost lease.
    public func renewLease(job id: String, attempt: Int, worker: String, leaseSeconds: Double) throws -> LeaseStatus {
        try backend.renewLease(job: id, attempt: attempt, worker: worker, leaseSeconds: leaseSeconds)
    }

    /// Records progress of a running attempt (callers throttle); false if the attempt is stale.
    @discardableResult
    public func updateProgress(job id: String, attempt: Int, done: Int64, total: Int64) throws -> Bool {
        try reportProgress(job: id, attempt: attempt, done: done, total: total) != .lost
    }

    /// Records progress and answers, in the same transaction, whether a cancel was requested: the
    /// worker hears of a cancel at its next progress report (about every half second) instead of
    /// at its next lease renewal (a third of the lease). `.lost` when the attempt is stale.
    public func reportProgress(job id: String, attempt: Int, done: Int64, total: Int64, stage: String? = nil) throws
        -> LeaseStatus
    {
        try backend.reportProgress(job: id, attempt: attempt, done: done, total: total, stage: stage)
    }

    /// Marks an attempt succeeded with its artifact and report, conditional on (id, running, attempt):
    /// a stale worker changes nothing and gets `staleWorker`.
    public func complete(job id: String, attempt: Int, result: CompletedJob) throws {
        try backend.complete(job: id, attempt: attempt, result: result)
    }

    /// Ends an attempt with an error. A transient one goes back to the queue after `retryDelay`
    /// while attempts remain; a permanent one (or the last attempt) fails the job with the reason.
    public func fail(job id: String, attempt: Int, code: String, message: String, transient: Bool, retryDelay: Double) throws
        -> JobState
    {
        try backend.fail(job: id, attempt: attempt, code: code, message: message, transient: transient, retryDelay: retryDelay)
    }

    /// A running attempt that saw its cancel request stops here.
    public func markCancelled(job id: String, attempt: Int) throws {
        try backend.markCancelled(job: id, attempt: attempt)
    }

    /// Running jobs whose lease expired (or, with `all`, every running job: at start-up of the only
    /// node) go back to the queue with their attempt counted; past the maximum they fail.
    @discardableResult
    public func requeueAbandoned(all: Bool = false) throws -> [JobRecord] {
        try backend.requeueAbandoned(all: all)
    }

    /// Calls `handler` whenever another replica queues a job (PostgreSQL's LISTEN/NOTIFY), so idle
    /// workers wake at once instead of polling.
    public func onJobQueued(_ handler: @escaping @Sendable () -> Void) { backend.onJobQueued(handler) }

    // MARK: - Service-wide reads (no tenant data leaves through these)

    /// Job counts by state, for metrics.
    public func jobCounts() throws -> [JobState: Int] { try backend.jobCounts() }

    /// Jobs whose artifacts passed their time-to-live: cleared (the caller deletes the files).
    public func expireArtifacts() throws -> [String] { try backend.expireArtifacts() }

    /// Every artifact path a job row refers to, and every model and dataset blob: what garbage
    /// collection keeps on disk.
    public func referencedFiles() throws -> Set<String> { try backend.referencedFiles() }

    /// For tests and diagnostics: a job by id regardless of tenant.
    public func jobForDiagnostics(_ id: String) throws -> JobRecord? { try backend.jobForDiagnostics(id) }

    public func eventsForDiagnostics(_ id: String) throws -> [JobEvent] { try backend.eventsForDiagnostics(id) }
}
