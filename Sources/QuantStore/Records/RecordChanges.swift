import Foundation

/// What the store's writes do to a record, whichever engine saves it: both engines call these, so
/// the rules (retry or fail, the reasons written into events, what a new row holds) live once.
extension JobRecord {
    /// A newly submitted job, queued now.
    static func queued(_ new: TenantScope.NewJob, tenantID: String, now: Double) -> JobRecord {
        JobRecord(
            id: Store.newID("job"), tenantId: tenantID, modelId: new.modelID, name: new.name, recipe: new.recipe, state: .queued,
            attempt: 0, maxAttempts: Swift.max(1, new.maxAttempts), leaseOwner: nil, leaseExpiresAt: nil, notBefore: now,
            progressDone: nil, progressTotal: nil, cancelRequested: false, errorCode: nil, errorMessage: nil, createdAt: now,
            startedAt: nil, finishedAt: nil, updatedAt: now, idempotencyKey: new.idempotencyKey, requestHash: new.requestHash,
            artifactPath: nil, artifactSize: nil, artifactSha256: nil, summary: nil, expiresAt: nil, datasetId: new.datasetID,
            kind: new.kind, training: new.training)
    }

    /// A failed attempt: a transient error goes back to the queue after `retryDelay` while attempts
    /// remain; anything else fails the job. Returns the next state and the event's reason.
    mutating func recordFailure(code: String, message: String, transient: Bool, retryDelay: Double, now: Double) -> (
        next: JobState, reason: String
    ) {
        let retry = transient && attempt < maxAttempts && !cancelRequested
        errorCode = code
        errorMessage = message
        if retry { notBefore = now + retryDelay }
        return (
            retry ? .queued : .failed, retry ? "\(code): \(message) (retrying in \(Int(retryDelay)) s)" : "\(code): \(message)"
        )
    }

    /// A cancel request: a queued job is cancelled at once (the event to append is returned); a
    /// running one is flagged, and its worker stops at the next chunk. Finished jobs are a conflict.
    mutating func recordCancelRequest(now: Double) throws -> (from: JobState, to: JobState, reason: String)? {
        switch state {
        case .queued:
            try Store.check(self, to: .cancelled)
            state = .cancelled
            finishedAt = now
            updatedAt = now
            return (.queued, .cancelled, "cancelled by request")
        case .running:
            cancelRequested = true
            updatedAt = now
            return nil
        default:
            throw StoreError.conflict("job \(id) already \(state.rawValue)")
        }
    }

    /// An attempt whose worker stopped (its lease expired, or the single node restarted): back to the
    /// queue, cancelled if that was asked, or failed once no attempts are left.
    mutating func recordAbandoned(atStartUp: Bool, now: Double) -> (next: JobState, reason: String) {
        let reason =
            "worker \(leaseOwner ?? "unknown worker") stopped during attempt \(attempt) (lease \(atStartUp ? "abandoned at start-up" : "expired"))"
        let next: JobState = cancelRequested ? .cancelled : (attempt >= maxAttempts ? .failed : .queued)
        notBefore = now
        if next == .failed {
            errorCode = "worker_lost"
            errorMessage = "\(reason); no attempts left (\(maxAttempts))"
        }
        return (next, reason)
    }

    /// What every exit from `running` does to the row: check the transition, drop the lease, stamp
    /// the times. The caller saves the row and appends the event.
    mutating func leaveRunning(to next: JobState, at now: Double) throws {
        try Store.check(self, to: next)
        state = next
        leaseOwner = nil
        leaseExpiresAt = nil
        updatedAt = now
        if next.isTerminal { finishedAt = now }
    }
}

extension ModelRecord {
    init(_ model: TenantScope.NewModel, tenantID: String, now: Double) {
        self.init(
            id: Store.newID("mdl"), tenantId: tenantID, name: model.name, format: model.format, size: model.size,
            sha256: model.sha256,
            tensorCount: model.tensorCount, parameterCount: model.parameterCount, blobPath: model.blobPath,
            createdAt: Date(timeIntervalSince1970: now))
    }
}

extension DatasetRecord {
    init(_ dataset: TenantScope.NewDataset, tenantID: String, now: Double) {
        self.init(
            id: Store.newID("ds"), tenantId: tenantID, name: dataset.name, size: dataset.size, sha256: dataset.sha256,
            tensorCount: dataset.tensorCount, blobPath: dataset.blobPath, createdAt: Date(timeIntervalSince1970: now))
    }
}
