import Foundation

/// One tenant's statements on PostgreSQL. Writes that check a tenant-wide limit (queued jobs,
/// storage) lock the tenant's row first, so two replicas cannot both pass the check with the last
/// free place; reads need no lock.
struct PostgresTenantScope: TenantBackend {
    let store: PostgresStore
    let tenantID: String

    var pool: PGPool { store.pool }

    /// Locks the tenant's row for the rest of the transaction; nil when the tenant does not exist.
    func lockTenant(_ connection: PGConnection) throws -> Tenant? {
        try PostgresStore.decodeFirst(
            Tenant.self, connection.query("SELECT * FROM tenants WHERE id = $1 FOR UPDATE", [.text(tenantID)]))
    }

    /// One row of this tenant's `table` by id, or `notFound`.
    func owned<T: Decodable>(
        _ type: T.Type, _ table: String, _ id: String, _ what: String, on connection: PGConnection, lock: Bool = false
    ) throws -> T {
        let sql = "SELECT * FROM \(table) WHERE id = $1 AND tenant_id = $2" + (lock ? " FOR UPDATE" : "")
        guard let row = try PostgresStore.decodeFirst(T.self, connection.query(sql, [.text(id), .text(tenantID)])) else {
            throw StoreError.notFound("\(what) \(id)")
        }
        return row
    }

    func list<T: Decodable>(_ type: T.Type, _ table: String, limit: Int) throws -> [T] {
        try pool.read { connection in
            try PostgresStore.decode(
                T.self,
                connection.query(
                    "SELECT * FROM \(table) WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                    [.text(tenantID), PGValue(limit)]))
        }
    }

    // MARK: - Models and datasets

    func addModel(_ model: TenantScope.NewModel, placeBlob: () throws -> Void) throws -> ModelRecord {
        try addBlobRow(into: "models", size: model.size, blobPath: model.blobPath, placeBlob: placeBlob) {
            ModelRecord(model, tenantID: tenantID, now: store.clock())
        }
    }

    func model(_ id: String) throws -> ModelRecord {
        try pool.read { try owned(ModelRecord.self, "models", id, "model", on: $0) }
    }

    func models(limit: Int) throws -> [ModelRecord] { try list(ModelRecord.self, "models", limit: limit) }

    func deleteModel(_ id: String, removeBlob: (String) -> Void) throws -> TenantScope.ModelDeletion {
        try deleteBlobRow(ModelRecord.self, id, usedBy: "model_id", busy: "cancel them first", removeBlob: removeBlob) {
            let deleted = try $0.query(
                "DELETE FROM jobs WHERE model_id = $1 AND tenant_id = $2 RETURNING id", [.text(id), .text(tenantID)])
            return deleted.values.compactMap { $0.first ?? nil }
        }
    }

    func addDataset(_ dataset: TenantScope.NewDataset, placeBlob: () throws -> Void) throws -> DatasetRecord {
        try addBlobRow(into: "datasets", size: dataset.size, blobPath: dataset.blobPath, placeBlob: placeBlob) {
            DatasetRecord(dataset, tenantID: tenantID, now: store.clock())
        }
    }

    /// A model or dataset row and its file, in one transaction: the tenant's storage quota, then the
    /// file placed under its blob's lock (so no delete of the same content interleaves), then the row.
    func addBlobRow<Row: Encodable>(
        into table: String, size: Int64, blobPath: String, placeBlob: () throws -> Void, _ makeRow: () -> Row
    ) throws -> Row {
        try pool.transaction { connection in
            try checkStorageQuota(connection, adding: size)
            try lockBlob(connection, blobPath)
            try placeBlob()
            let row = makeRow()
            try PGRecordCoding.insert(row, into: table, on: connection)
            return row
        }
    }

    func dataset(_ id: String) throws -> DatasetRecord {
        try pool.read { try owned(DatasetRecord.self, "datasets", id, "dataset", on: $0) }
    }

    func datasets(limit: Int) throws -> [DatasetRecord] { try list(DatasetRecord.self, "datasets", limit: limit) }

    func deleteDataset(_ id: String, removeBlob: (String) -> Void) throws -> String? {
        try deleteBlobRow(
            DatasetRecord.self, id, usedBy: "dataset_id", busy: "wait for them or cancel them first", removeBlob: removeBlob
        ).blobPath
    }

    /// Deletes a model or dataset of the tenant's, as SQLite's `deleteBlobRow`: a conflict while
    /// queued or running jobs name it in `column`; `deleteJobs` runs before the row goes and returns
    /// the ids of the jobs it deleted; the blob goes when no other row names it.
    func deleteBlobRow<Row: TenantBlobRow & Decodable>(
        _ type: Row.Type, _ id: String, usedBy column: String, busy: String, removeBlob: (String) -> Void,
        deleteJobs: (PGConnection) throws -> [String] = { _ in [] }
    ) throws -> TenantScope.ModelDeletion {
        try pool.transaction { connection in
            let row = try owned(Row.self, Row.databaseTableName, id, Row.noun, on: connection, lock: true)
            let active = try count(
                connection, "SELECT COUNT(*) FROM jobs WHERE \(column) = $1 AND state IN \(JobState.activeSQL)", [.text(id)])
            if active > 0 { throw StoreError.conflict("\(Row.noun) \(id) is used by \(active) queued or running jobs; \(busy)") }
            let jobIDs = try deleteJobs(connection)
            try connection.query("DELETE FROM \(Row.databaseTableName) WHERE id = $1", [.text(id)])
            return TenantScope.ModelDeletion(blobPath: try removeIfUnnamed(connection, row.blobPath, removeBlob), jobIDs: jobIDs)
        }
    }

    /// Removes the blob, inside the transaction, when no model or dataset row (of any tenant) still
    /// names it. The blob's lock makes this take turns with other deletes (of the last two rows
    /// naming one blob, each could see the other's row) and with adds placing the same content.
    func removeIfUnnamed(_ connection: PGConnection, _ path: String, _ removeBlob: (String) -> Void) throws -> String? {
        try lockBlob(connection, path)
        let named = try count(
            connection,
            "SELECT (SELECT COUNT(*) FROM models WHERE blob_path = $1) + (SELECT COUNT(*) FROM datasets WHERE blob_path = $1)",
            [.text(path)])
        guard named == 0 else { return nil }
        removeBlob(path)
        return path
    }

    /// A lock on one blob path for the rest of the transaction, across replicas.
    func lockBlob(_ connection: PGConnection, _ path: String) throws {
        try connection.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [.text(path)])
    }

    /// Models and datasets share one storage quota per tenant.
    func checkStorageQuota(_ connection: PGConnection, adding size: Int64) throws {
        guard let tenant = try lockTenant(connection) else { return }
        let used = try count(
            connection,
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM models WHERE tenant_id = $1) + (SELECT COALESCE(SUM(size), 0) FROM datasets WHERE tenant_id = $1)",
            [.text(tenantID)])
        if used + size > tenant.maxStorageBytes {
            throw StoreError.quotaExceeded(
                "storage quota of \(tenant.maxStorageBytes) bytes exceeded; delete models or datasets first")
        }
    }

    func count(_ connection: PGConnection, _ sql: String, _ parameters: [PGValue]) throws -> Int64 {
        Int64(try connection.query(sql, parameters).first?[0] ?? "0") ?? 0
    }
}
