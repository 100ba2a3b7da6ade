import Foundation
import GRDB

extension SQLiteStore {
    /// Claims the next job fairly: round-robin over tenants (the tenant served longest ago first),
    /// then the tenant's oldest job. One transaction sets running, the lease and attempt + 1.
    func claim(worker: String, leaseSeconds: Double) throws -> Claim? {
        try pool.write { db in
            let now = clock()
            guard
                let id = try String.fetchOne(
                    db,
                    sql: """
                        SELECT j.id FROM jobs j JOIN tenants t ON t.id = j.tenant_id
                        WHERE j.state = \(JobState.queued.sql) AND j.not_before <= ?
                        ORDER BY t.last_claimed_at ASC, j.created_at ASC, j.id ASC LIMIT 1
                        """, arguments: [now]),
                var job = try JobRecord.fetchOne(db, key: id),
                let model = try ModelRecord.fetchOne(db, key: job.modelId)
            else { return nil }
            try Store.check(job, to: .running)
            job.state = .running
            job.attempt += 1
            job.leaseOwner = worker
            job.leaseExpiresAt = now + leaseSeconds
            job.startedAt = job.startedAt ?? now
            job.updatedAt = now
            job.progressDone = nil
            job.progressTotal = nil
            job.progressStage = nil
            try job.update(db)
            try db.execute(sql: "UPDATE tenants SET last_claimed_at = ? WHERE id = ?", arguments: [now, job.tenantId])
            try SQLiteStore.event(
                db, job: job.id, from: .queued, to: .running, attempt: job.attempt, reason: "claimed by \(worker)", at: now)
            let dataset = try job.datasetId.flatMap { try DatasetRecord.fetchOne(db, key: $0) }
            return Claim(job: job, model: model, dataset: dataset)
        }
    }

    /// Extends the lease of a running attempt; reports a cancel request or a lost lease.
    func renewLease(job id: String, attempt: Int, worker: String, leaseSeconds: Double) throws -> LeaseStatus {
        try pool.write { db in
            let now = clock()
            try db.execute(
                sql: """
                    UPDATE jobs SET lease_expires_at = ?, updated_at = ?
                    WHERE id = ? AND state = \(JobState.running.sql) AND attempt = ? AND lease_owner = ?
                    """, arguments: [now + leaseSeconds, now, id, attempt, worker])
            guard db.changesCount == 1 else { return .lost }
            let cancel = try Bool.fetchOne(db, sql: "SELECT cancel_requested FROM jobs WHERE id = ?", arguments: [id]) ?? false
            return cancel ? .cancelRequested : .held
        }
    }

    /// Records progress and answers, in the same transaction, whether a cancel was requested: the
    /// worker hears of a cancel at its next progress report (about every half second) instead of
    /// at its next lease renewal (a third of the lease). `.lost` when the attempt is stale.
    func reportProgress(job id: String, attempt: Int, done: Int64, total: Int64, stage: String?) throws -> LeaseStatus {
        try pool.write { db in
            try db.execute(
                sql:
                    "UPDATE jobs SET progress_done = ?, progress_total = ?, progress_stage = ?, updated_at = ? WHERE id = ? AND state = \(JobState.running.sql) AND attempt = ?",
                arguments: [done, total, stage, clock(), id, attempt])
            guard db.changesCount == 1 else { return .lost }
            let cancel = try Bool.fetchOne(db, sql: "SELECT cancel_requested FROM jobs WHERE id = ?", arguments: [id]) ?? false
            return cancel ? .cancelRequested : .held
        }
    }

    /// Marks an attempt succeeded with its artifact and report, conditional on (id, running, attempt):
    /// a stale worker changes nothing and gets `staleWorker`.
    func complete(job id: String, attempt: Int, result: CompletedJob) throws {
        try pool.write { db in
            let now = clock()
            try db.execute(
                sql: """
                    UPDATE jobs SET state = \(JobState.succeeded.sql), finished_at = ?, updated_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                        artifact_path = ?, artifact_size = ?, artifact_sha256 = ?, summary = ?, expires_at = ?,
                        progress_done = progress_total, error_code = NULL, error_message = NULL
                    WHERE id = ? AND state = \(JobState.running.sql) AND attempt = ?
                    """,
                arguments: [
                    now, now, result.artifactPath, result.artifactSize, result.artifactSha256, result.summary, result.expiresAt,
                    id, attempt,
                ])
            guard db.changesCount == 1 else { throw StoreError.staleWorker(job: id) }
            for (position, tensor) in result.tensors.enumerated() {
                try TensorMetricRecord(
                    jobId: id, position: position, name: tensor.name, sqnrDb: tensor.sqnrDb, bitsPerWeight: tensor.bitsPerWeight,
                    report: tensor.report
                ).insert(db)
            }
            for epoch in result.epochs {
                var row = epoch
                row.jobId = id
                try row.insert(db)
            }
            try SQLiteStore.event(db, job: id, from: .running, to: .succeeded, attempt: attempt, reason: nil, at: now)
        }
    }

    /// Running jobs whose lease expired (or, with `all`, every running job: at start-up of the only
    /// node) go back to the queue with their attempt counted; past the maximum they fail.
    func requeueAbandoned(all: Bool) throws -> [JobRecord] {
        try pool.write { db in
            let now = clock()
            let request =
                all
                ? JobRecord.filter(JobRecord.Columns.state == JobState.running)
                : JobRecord.filter(JobRecord.Columns.state == JobState.running && JobRecord.Columns.leaseExpiresAt < now)
            var changed: [JobRecord] = []
            for var job in try request.fetchAll(db) {
                let (next, reason) = job.recordAbandoned(atStartUp: all, now: now)
                try SQLiteStore.leaveRunning(db, &job, to: next, reason: reason, at: now)
                changed.append(job)
            }
            return changed
        }
    }

    /// The running attempt `attempt` of job `id`; anything else means the caller is a stale worker.
    static func runningAttempt(_ db: Database, id: String, attempt: Int) throws -> JobRecord {
        guard let job = try JobRecord.fetchOne(db, key: id), job.state == .running, job.attempt == attempt else {
            throw StoreError.staleWorker(job: id)
        }
        return job
    }

    /// Leaves `running` (`JobRecord.leaveRunning`), then saves the row and its event.
    static func leaveRunning(_ db: Database, _ job: inout JobRecord, to next: JobState, reason: String, at now: Double) throws {
        try job.leaveRunning(to: next, at: now)
        try job.update(db)
        try event(db, job: job.id, from: .running, to: next, attempt: job.attempt, reason: reason, at: now)
    }

    // MARK: - Service-wide reads (no tenant data leaves through these)

    /// Job counts by state, for metrics.
    func jobCounts() throws -> [JobState: Int] {
        try pool.read { db in
            var counts: [JobState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// Jobs whose artifacts passed their time-to-live: cleared (the caller deletes the files).
    func expireArtifacts() throws -> [String] {
        try pool.write { db in
            let now = clock()
            let paths = try String.fetchAll(
                db,
                sql:
                    "SELECT artifact_path FROM jobs WHERE expires_at IS NOT NULL AND expires_at < ? AND artifact_path IS NOT NULL",
                arguments: [now])
            try db.execute(
                sql:
                    "UPDATE jobs SET artifact_path = NULL, updated_at = ? WHERE expires_at IS NOT NULL AND expires_at < ? AND artifact_path IS NOT NULL",
                arguments: [now, now])
            return paths
        }
    }

    /// Every artifact path a job row refers to, and every model and dataset blob: what start-up keeps on disk.
    func referencedFiles() throws -> Set<String> {
        try pool.read { db in
            Set(
                try String.fetchAll(db, sql: "SELECT artifact_path FROM jobs WHERE artifact_path IS NOT NULL")
                    + String.fetchAll(db, sql: "SELECT blob_path FROM models")
                    + String.fetchAll(db, sql: "SELECT blob_path FROM datasets"))
        }
    }

    /// For tests and diagnostics: a job by id regardless of tenant.
    func jobForDiagnostics(_ id: String) throws -> JobRecord? {
        try pool.read { db in try JobRecord.fetchOne(db, key: id) }
    }

    func eventsForDiagnostics(_ id: String) throws -> [JobEvent] {
        try pool.read { db in try JobEvent.filter(JobEvent.Columns.jobId == id).order(JobEvent.Columns.id).fetchAll(db) }
    }
}

extension SQLiteStore: RunningAttemptWrites {
    func writeTransaction<T>(_ body: (Database) throws -> T) throws -> T { try pool.write(body) }
}
