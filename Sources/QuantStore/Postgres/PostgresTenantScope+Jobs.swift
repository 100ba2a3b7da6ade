import Foundation

extension PostgresTenantScope {
    /// Queues a job and notifies idle workers of every replica. The tenant's row is locked first:
    /// the queued-jobs limit and the Idempotency-Key lookup then see every earlier submit of the
    /// tenant, whichever replica took it.
    func submit(_ new: TenantScope.NewJob) throws -> (job: JobRecord, created: Bool) {
        try pool.transaction { connection in
            guard let tenant = try lockTenant(connection) else { throw StoreError.notFound("tenant \(tenantID)") }
            if let key = new.idempotencyKey,
                let existing = try PostgresStore.decodeFirst(
                    JobRecord.self,
                    connection.query(
                        "SELECT * FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2", [.text(tenantID), .text(key)]))
            {
                guard existing.requestHash == new.requestHash else { throw StoreError.idempotencyConflict(key: key) }
                return (existing, false)
            }
            _ = try owned(ModelRecord.self, "models", new.modelID, "model", on: connection)
            if let datasetID = new.datasetID {
                _ = try owned(DatasetRecord.self, "datasets", datasetID, "dataset", on: connection)
            }
            let queued = try count(
                connection, "SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND state = \(JobState.queued.sql)", [.text(tenantID)]
            )
            if queued >= tenant.maxQueuedJobs {
                throw StoreError.quotaExceeded(
                    "\(queued) jobs already queued (the limit is \(tenant.maxQueuedJobs)); wait for some to finish")
            }
            let now = store.clock()
            let job = JobRecord.queued(new, tenantID: tenantID, now: now)
            try PGRecordCoding.insert(job, into: "jobs", on: connection)
            try PostgresStore.event(connection, job: job.id, from: nil, to: .queued, attempt: 0, reason: "submitted", at: now)
            try PostgresStore.notifyQueued(connection)
            return (job, true)
        }
    }

    func job(_ id: String) throws -> JobRecord { try pool.read { try owned(JobRecord.self, "jobs", id, "job", on: $0) } }

    func jobs(state: JobState?, modelID: String?, limit: Int, cursor: String?) throws -> [JobRecord] {
        try pool.read { connection in
            var conditions = ["tenant_id = $1"]
            var parameters: [PGValue] = [.text(tenantID)]
            func add(_ condition: (Int) -> String, _ values: [PGValue]) {
                conditions.append(condition(parameters.count + 1))
                parameters += values
            }
            if let state { add({ "state = $\($0)" }, [.text(state.rawValue)]) }
            if let modelID { add({ "model_id = $\($0)" }, [.text(modelID)]) }
            if let cursor {
                guard
                    let last = try PostgresStore.decodeFirst(
                        JobRecord.self,
                        connection.query("SELECT * FROM jobs WHERE id = $1 AND tenant_id = $2", [.text(cursor), .text(tenantID)]))
                else {
                    throw StoreError.invalid("unknown cursor '\(cursor)': pass the next_cursor of the previous page")
                }
                add({ "(created_at, id) < ($\($0)::float8, $\($0 + 1))" }, [.double(last.createdAt), .text(last.id)])
            }
            parameters.append(PGValue(Swift.min(Swift.max(limit, 1), 500)))
            let sql =
                "SELECT * FROM jobs WHERE \(conditions.joined(separator: " AND ")) ORDER BY created_at DESC, id DESC LIMIT $\(parameters.count)"
            return try PostgresStore.decode(JobRecord.self, connection.query(sql, parameters))
        }
    }

    func cancel(_ id: String) throws -> JobRecord {
        try pool.transaction { connection in
            var job = try owned(JobRecord.self, "jobs", id, "job", on: connection, lock: true)
            let now = store.clock()
            let event = try job.recordCancelRequest(now: now)
            try PostgresStore.update(connection, job)
            if let event {
                try PostgresStore.event(
                    connection, job: id, from: event.from, to: event.to, attempt: job.attempt, reason: event.reason, at: now)
            }
            return job
        }
    }

    func deleteJob(_ id: String) throws -> String? {
        try pool.transaction { connection in
            let job = try owned(JobRecord.self, "jobs", id, "job", on: connection, lock: true)
            guard job.state.isTerminal else { throw StoreError.conflict("job \(id) is \(job.state.rawValue); cancel it first") }
            try connection.query("DELETE FROM jobs WHERE id = $1", [.text(id)])
            return job.artifactPath
        }
    }

    func events(of id: String) throws -> [JobEvent] {
        try rowsOfJob(JobEvent.self, "SELECT * FROM job_events WHERE job_id = $1 ORDER BY id", id)
    }

    func metrics(of id: String) throws -> [TensorMetricRecord] {
        try rowsOfJob(TensorMetricRecord.self, "SELECT * FROM tensor_metrics WHERE job_id = $1 ORDER BY position", id)
    }

    func epochs(of id: String) throws -> [EpochMetricRecord] {
        try rowsOfJob(EpochMetricRecord.self, "SELECT * FROM job_epochs WHERE job_id = $1 ORDER BY epoch", id)
    }

    /// Rows that hang off one of this tenant's jobs (checked first: another tenant's job is not found).
    private func rowsOfJob<T: Decodable>(_ type: T.Type, _ sql: String, _ id: String) throws -> [T] {
        try pool.read { connection in
            _ = try owned(JobRecord.self, "jobs", id, "job", on: connection)
            return try PostgresStore.decode(T.self, connection.query(sql, [.text(id)]))
        }
    }
}
