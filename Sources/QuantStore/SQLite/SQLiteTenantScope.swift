import Foundation
import GRDB

/// One tenant's statements on SQLite: every query filters on `tenantID`.
struct SQLiteTenantScope: TenantBackend {
    let store: SQLiteStore
    let tenantID: String

    var pool: DatabasePool { store.pool }

    // MARK: - Models

    func addModel(_ model: TenantScope.NewModel, placeBlob: () throws -> Void) throws -> ModelRecord {
        try addBlobRow(size: model.size, placeBlob: placeBlob) { ModelRecord(model, tenantID: tenantID, now: store.clock()) }
    }

    /// A model or dataset row and its file, in one write transaction (on SQLite the blob's lock: it
    /// serializes this with every delete): the tenant's storage quota, the file placed, the row.
    func addBlobRow<Row: PersistableRecord>(size: Int64, placeBlob: () throws -> Void, _ makeRow: () -> Row) throws -> Row {
        try store.pool.write { db in
            try checkStorageQuota(db, adding: size)
            try placeBlob()
            let row = makeRow()
            try row.insert(db)
            return row
        }
    }

    func model(_ id: String) throws -> ModelRecord { try row(ModelRecord.self, id) }

    func models(limit: Int) throws -> [ModelRecord] { try rows(ModelRecord.self, limit: limit) }

    /// Deletes a model and its finished jobs; a conflict while unfinished jobs use it. Removes its
    /// blob when no other model or dataset (of any tenant) names it.
    func deleteModel(_ id: String, removeBlob: (String) -> Void) throws -> TenantScope.ModelDeletion {
        try deleteBlobRow(
            ModelRecord.self, id, usedBy: JobRecord.Columns.modelId, busy: "cancel them first", removeBlob: removeBlob
        ) { db in
            let jobs = JobRecord.filter(JobRecord.Columns.modelId == id && JobRecord.Columns.tenantId == tenantID)
            let ids = try String.fetchAll(db, jobs.select(JobRecord.Columns.id))
            try jobs.deleteAll(db)
            return ids
        }
    }

    // MARK: - Jobs

    /// Queues a job, or returns the job an earlier request with the same Idempotency-Key made.
    func submit(_ new: TenantScope.NewJob) throws -> (job: JobRecord, created: Bool) {
        try store.pool.write { db in
            if let key = new.idempotencyKey,
                let existing = try JobRecord.filter(
                    JobRecord.Columns.tenantId == tenantID && JobRecord.Columns.idempotencyKey == key
                ).fetchOne(db)
            {
                guard existing.requestHash == new.requestHash else { throw StoreError.idempotencyConflict(key: key) }
                return (existing, false)
            }
            guard try owns(ModelRecord.self, new.modelID, in: db) else { throw StoreError.notFound("model \(new.modelID)") }
            if let datasetID = new.datasetID, try !owns(DatasetRecord.self, datasetID, in: db) {
                throw StoreError.notFound("dataset \(datasetID)")
            }
            let tenant = try Tenant.fetchOne(db, key: tenantID)
            let queued = try JobRecord.filter(
                JobRecord.Columns.tenantId == tenantID && JobRecord.Columns.state == JobState.queued
            ).fetchCount(db)
            if let tenant, queued >= tenant.maxQueuedJobs {
                throw StoreError.quotaExceeded(
                    "\(queued) jobs already queued (the limit is \(tenant.maxQueuedJobs)); wait for some to finish")
            }
            let now = store.clock()
            let job = JobRecord.queued(new, tenantID: tenantID, now: now)
            try job.insert(db)
            try SQLiteStore.event(db, job: job.id, from: nil, to: .queued, attempt: 0, reason: "submitted", at: now)
            return (job, true)
        }
    }

    func job(_ id: String) throws -> JobRecord {
        // Polled constantly: one prepared statement on a raw read connection (see `HotReads`), outside
        // an explicit transaction (a single SELECT is atomic on its own).
        guard
            let job = try store.hot.with({ connection in
                try connection.first(JobRecord.selectByIDAndTenant, [.text(id), .text(tenantID)]) { try JobRecord(hotRow: $0) }
            })
        else {
            throw StoreError.notFound("job \(id)")
        }
        return job
    }

    /// Newest first; `cursor` is the id of the last job of the previous page.
    func jobs(state: JobState?, modelID: String?, limit: Int, cursor: String?) throws -> [JobRecord] {
        try pool.read { db in
            var request = JobRecord.filter(JobRecord.Columns.tenantId == tenantID)
            if let state { request = request.filter(JobRecord.Columns.state == state) }
            if let modelID { request = request.filter(JobRecord.Columns.modelId == modelID) }
            if let cursor {
                guard
                    let last = try JobRecord.filter(JobRecord.Columns.id == cursor && JobRecord.Columns.tenantId == tenantID)
                        .fetchOne(db)
                else {
                    throw StoreError.invalid("unknown cursor '\(cursor)': pass the next_cursor of the previous page")
                }
                request = request.filter(sql: "(created_at, id) < (?, ?)", arguments: [last.createdAt, last.id])
            }
            return try request.order(JobRecord.Columns.createdAt.desc, JobRecord.Columns.id.desc).limit(
                Swift.min(Swift.max(limit, 1), 500)
            ).fetchAll(db)
        }
    }

    /// Cancels a job: a queued one at once; a running one is flagged and its worker stops at the next
    /// chunk. Finished jobs are a conflict.
    func cancel(_ id: String) throws -> JobRecord {
        try store.pool.write { db in
            guard
                var job = try JobRecord.filter(JobRecord.Columns.id == id && JobRecord.Columns.tenantId == tenantID).fetchOne(db)
            else {
                throw StoreError.notFound("job \(id)")
            }
            let now = store.clock()
            let event = try job.recordCancelRequest(now: now)
            try job.update(db)
            if let event {
                try SQLiteStore.event(
                    db, job: id, from: event.from, to: event.to, attempt: job.attempt, reason: event.reason, at: now)
            }
            return job
        }
    }

    /// Deletes a finished job (its artifact path is returned for the caller to remove).
    func deleteJob(_ id: String) throws -> String? {
        try store.pool.write { db in
            guard
                let job = try JobRecord.filter(JobRecord.Columns.id == id && JobRecord.Columns.tenantId == tenantID).fetchOne(db)
            else {
                throw StoreError.notFound("job \(id)")
            }
            guard job.state.isTerminal else { throw StoreError.conflict("job \(id) is \(job.state.rawValue); cancel it first") }
            try job.delete(db)
            return job.artifactPath
        }
    }

    func events(of id: String) throws -> [JobEvent] {
        _ = try job(id)
        return try pool.read { db in try JobEvent.filter(JobEvent.Columns.jobId == id).order(JobEvent.Columns.id).fetchAll(db) }
    }

    func metrics(of id: String) throws -> [TensorMetricRecord] {
        _ = try job(id)
        return try pool.read { db in
            try TensorMetricRecord.filter(TensorMetricRecord.Columns.jobId == id).order(TensorMetricRecord.Columns.position)
                .fetchAll(db)
        }
    }

    /// QAT: the metrics of every epoch, in order.
    func epochs(of id: String) throws -> [EpochMetricRecord] {
        _ = try job(id)
        return try pool.read { db in
            try EpochMetricRecord.filter(EpochMetricRecord.Columns.jobId == id).order(EpochMetricRecord.Columns.epoch).fetchAll(
                db)
        }
    }
}
