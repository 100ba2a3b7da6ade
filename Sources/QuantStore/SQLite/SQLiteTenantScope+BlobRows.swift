import GRDB

/// Lookups shared by models and datasets: one of the tenant's rows by id, the newest first.
extension SQLiteTenantScope {
    /// The tenant's row `id`, or not found (another tenant's row is not found either).
    func row<Row: TenantBlobRow>(_ type: Row.Type, _ id: String, in db: Database) throws -> Row {
        guard let row = try Row.filter(Row.columns.id == id && Row.columns.tenantId == tenantID).fetchOne(db) else {
            throw StoreError.notFound("\(Row.noun) \(id)")
        }
        return row
    }

    func row<Row: TenantBlobRow>(_ type: Row.Type, _ id: String) throws -> Row {
        try pool.read { db in try row(type, id, in: db) }
    }

    func rows<Row: TenantBlobRow>(_ type: Row.Type, limit: Int) throws -> [Row] {
        try pool.read { db in
            try Row.filter(Row.columns.tenantId == tenantID).order(Row.columns.createdAt.desc, Row.columns.id.desc).limit(limit)
                .fetchAll(db)
        }
    }

    /// Whether the tenant has row `id`.
    func owns<Row: TenantBlobRow>(_ type: Row.Type, _ id: String, in db: Database) throws -> Bool {
        try Row.filter(Row.columns.id == id && Row.columns.tenantId == tenantID).fetchCount(db) == 1
    }

    /// Deletes a model or dataset of the tenant's: a conflict while queued or running jobs name it in
    /// `column` (`busy` says what to do then); `deleteJobs` runs before the row goes and returns the
    /// ids of the jobs it deleted. Removes the blob when no other row (of any tenant) names it.
    func deleteBlobRow<Row: TenantBlobRow>(
        _ type: Row.Type, _ id: String, usedBy column: Column, busy: String, removeBlob: (String) -> Void,
        deleteJobs: (Database) throws -> [String] = { _ in [] }
    ) throws -> TenantScope.ModelDeletion {
        try store.pool.write { db in
            let row = try row(type, id, in: db)
            let active = try JobRecord.filter(column == id && JobState.active.contains(JobRecord.Columns.state))
                .fetchCount(db)
            if active > 0 { throw StoreError.conflict("\(Row.noun) \(id) is used by \(active) queued or running jobs; \(busy)") }
            let jobIDs = try deleteJobs(db)
            try row.delete(db)
            return TenantScope.ModelDeletion(blobPath: try removeIfUnnamed(db, row.blobPath, removeBlob), jobIDs: jobIDs)
        }
    }
}
