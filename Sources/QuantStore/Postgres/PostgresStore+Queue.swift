import Foundation

extension PostgresStore {
    /// The fair order of SQLite's claim (the tenant served longest ago, then its oldest job), taken
    /// with `FOR UPDATE SKIP LOCKED`: replicas claiming at once lock different rows instead of
    /// waiting for each other, and no job is claimed twice.
    func claim(worker: String, leaseSeconds: Double) throws -> Claim? {
        try pool.transaction { connection in
            let now = clock()
            let claimed = try connection.query(
                """
                WITH next AS (
                    SELECT j.id FROM jobs j JOIN tenants t ON t.id = j.tenant_id
                    WHERE j.state = \(JobState.queued.sql) AND j.not_before <= $1
                    ORDER BY t.last_claimed_at ASC, j.created_at ASC, j.id ASC
                    LIMIT 1 FOR UPDATE OF j SKIP LOCKED
                )
                UPDATE jobs j SET state = \(JobState.running.sql), attempt = j.attempt + 1, lease_owner = $2, lease_expires_at = $3,
                    started_at = COALESCE(j.started_at, $1), updated_at = $1, progress_done = NULL, progress_total = NULL, progress_stage = NULL
                FROM next WHERE j.id = next.id
                RETURNING j.*
                """, [.double(now), .text(worker), .double(now + leaseSeconds)])
            guard let job = try Self.decodeFirst(JobRecord.self, claimed) else { return nil }
            guard
                let model = try Self.decodeFirst(
                    ModelRecord.self, connection.query("SELECT * FROM models WHERE id = $1", [.text(job.modelId)]))
            else {
                throw StoreError.invalid("job \(job.id) names model \(job.modelId), which does not exist")
            }
            try connection.query("UPDATE tenants SET last_claimed_at = $1 WHERE id = $2", [.double(now), .text(job.tenantId)])
            try Self.event(
                connection, job: job.id, from: .queued, to: .running, attempt: job.attempt, reason: "claimed by \(worker)",
                at: now)
            let dataset = try job.datasetId.flatMap {
                try Self.decodeFirst(DatasetRecord.self, connection.query("SELECT * FROM datasets WHERE id = $1", [.text($0)]))
            }
            return Claim(job: job, model: model, dataset: dataset)
        }
    }

    func renewLease(job id: String, attempt: Int, worker: String, leaseSeconds: Double) throws -> LeaseStatus {
        try pool.transaction { connection in
            let now = clock()
            let rows = try connection.query(
                """
                UPDATE jobs SET lease_expires_at = $1, updated_at = $2
                WHERE id = $3 AND state = \(JobState.running.sql) AND attempt = $4 AND lease_owner = $5 AND lease_expires_at >= $2
                RETURNING cancel_requested
                """, [.double(now + leaseSeconds), .double(now), .text(id), PGValue(attempt), .text(worker)])
            guard let row = rows.first else { return .lost }
            return row["cancel_requested"] == "t" ? .cancelRequested : .held
        }
    }

    func reportProgress(job id: String, attempt: Int, done: Int64, total: Int64, stage: String?) throws -> LeaseStatus {
        try pool.transaction { connection in
            let rows = try connection.query(
                """
                UPDATE jobs SET progress_done = $1, progress_total = $2, progress_stage = $3, updated_at = $4
                WHERE id = $5 AND state = \(JobState.running.sql) AND attempt = $6 RETURNING cancel_requested
                """, [.int(done), .int(total), PGValue(stage), .double(clock()), .text(id), PGValue(attempt)])
            guard let row = rows.first else { return .lost }
            return row["cancel_requested"] == "t" ? .cancelRequested : .held
        }
    }

    /// Fenced by the lease: besides naming its attempt, the writer must still hold an unexpired
    /// lease. A replica that was cut off past its lease has its result refused even before another
    /// replica re-queues the job. (The lease was set from the same replica's clock, so the check
    /// does not depend on the replicas' clocks agreeing.)
    func complete(job id: String, attempt: Int, result: CompletedJob) throws {
        try pool.transaction { connection in
            let now = clock()
            let rows = try connection.query(
                """
                UPDATE jobs SET state = \(JobState.succeeded.sql), finished_at = $1, updated_at = $1, lease_owner = NULL, lease_expires_at = NULL,
                    artifact_path = $2, artifact_size = $3, artifact_sha256 = $4, summary = $5, expires_at = $6,
                    progress_done = progress_total, error_code = NULL, error_message = NULL
                WHERE id = $7 AND state = \(JobState.running.sql) AND attempt = $8 AND lease_expires_at >= $1
                """,
                [
                    .double(now), PGValue(result.artifactPath), PGValue(result.artifactSize), PGValue(result.artifactSha256),
                    .text(result.summary),
                    PGValue(result.expiresAt), .text(id), PGValue(attempt),
                ])
            guard rows.affected == 1 else { throw StoreError.staleWorker(job: id) }
            for (position, tensor) in result.tensors.enumerated() {
                try PGRecordCoding.insert(
                    TensorMetricRecord(
                        jobId: id, position: position, name: tensor.name, sqnrDb: tensor.sqnrDb,
                        bitsPerWeight: tensor.bitsPerWeight, report: tensor.report),
                    into: "tensor_metrics", on: connection)
            }
            for epoch in result.epochs {
                var row = epoch
                row.jobId = id
                try PGRecordCoding.insert(row, into: "job_epochs", on: connection)
            }
            try Self.event(connection, job: id, from: .running, to: .succeeded, attempt: attempt, reason: nil, at: now)
        }
    }

    /// Only expired leases: other replicas' running jobs are alive, so `all` (the single node's
    /// start-up recovery) does not apply to a shared database.
    func requeueAbandoned(all: Bool) throws -> [JobRecord] {
        try pool.transaction { connection in
            let now = clock()
            let expired = try Self.decode(
                JobRecord.self,
                connection.query(
                    "SELECT * FROM jobs WHERE state = \(JobState.running.sql) AND lease_expires_at < $1 FOR UPDATE SKIP LOCKED",
                    [.double(now)]))
            var changed: [JobRecord] = []
            for var job in expired {
                let (next, reason) = job.recordAbandoned(atStartUp: false, now: now)
                try Self.leaveRunning(connection, &job, to: next, reason: reason, at: now)
                changed.append(job)
            }
            if changed.contains(where: { $0.state == .queued }) { try Self.notifyQueued(connection) }
            return changed
        }
    }

    /// The running attempt `attempt` of job `id`, locked; anything else means a stale worker.
    static func runningAttempt(_ connection: PGConnection, id: String, attempt: Int) throws -> JobRecord {
        guard
            let job = try decodeFirst(
                JobRecord.self, connection.query("SELECT * FROM jobs WHERE id = $1 FOR UPDATE", [.text(id)])),
            job.state == .running, job.attempt == attempt
        else {
            throw StoreError.staleWorker(job: id)
        }
        return job
    }

    /// Leaves `running` (`JobRecord.leaveRunning`), then saves the row and its event.
    static func leaveRunning(
        _ connection: PGConnection, _ job: inout JobRecord, to next: JobState, reason: String, at now: Double
    ) throws {
        try job.leaveRunning(to: next, at: now)
        try update(connection, job)
        try event(connection, job: job.id, from: .running, to: next, attempt: job.attempt, reason: reason, at: now)
        if next == .queued { try notifyQueued(connection) }
    }

    // MARK: - Service-wide reads

    func jobCounts() throws -> [JobState: Int] {
        try pool.read { connection in
            var counts: [JobState: Int] = [:]
            for row in try connection.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all {
                if let state = row["state"].flatMap(JobState.init(rawValue:)) { counts[state] = Int(row["n"] ?? "") }
            }
            return counts
        }
    }

    func expireArtifacts() throws -> [String] {
        try pool.transaction { connection in
            let now = clock()
            return try connection.query(
                """
                WITH expired AS (
                    SELECT id, artifact_path FROM jobs WHERE expires_at IS NOT NULL AND expires_at < $1 AND artifact_path IS NOT NULL
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE jobs j SET artifact_path = NULL, updated_at = $1 FROM expired WHERE j.id = expired.id
                RETURNING expired.artifact_path
                """, [.double(now)]
            ).all.compactMap { $0["artifact_path"] }
        }
    }

    func referencedFiles() throws -> Set<String> {
        try pool.read { connection in
            Set(
                try connection.query(
                    """
                    SELECT artifact_path AS path FROM jobs WHERE artifact_path IS NOT NULL
                    UNION SELECT blob_path FROM models UNION SELECT blob_path FROM datasets
                    """
                ).all.compactMap { $0["path"] })
        }
    }

    func jobForDiagnostics(_ id: String) throws -> JobRecord? {
        try pool.read { try Self.decodeFirst(JobRecord.self, $0.query("SELECT * FROM jobs WHERE id = $1", [.text(id)])) }
    }

    func eventsForDiagnostics(_ id: String) throws -> [JobEvent] {
        try pool.read {
            try Self.decode(JobEvent.self, $0.query("SELECT * FROM job_events WHERE job_id = $1 ORDER BY id", [.text(id)]))
        }
    }
}

extension PostgresStore: RunningAttemptWrites {
    func writeTransaction<T>(_ body: (PGConnection) throws -> T) throws -> T { try pool.transaction(body) }
}
