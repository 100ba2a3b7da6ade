import Foundation
import GRDB

extension SQLiteStore {
    func createTenant(name: String, maxQueuedJobs: Int, maxStorageBytes: Int64) throws -> Tenant {
        try pool.write { db in
            if let existing = try Tenant.filter(Tenant.Columns.name == name).fetchOne(db) { return existing }
            let tenant = Tenant(
                id: Store.newID("ten"), name: name, createdAt: Date(timeIntervalSince1970: clock()), maxQueuedJobs: maxQueuedJobs,
                maxStorageBytes: maxStorageBytes, lastClaimedAt: 0)
            try tenant.insert(db)
            return tenant
        }
    }

    func tenant(named name: String) throws -> Tenant? {
        try pool.read { db in try Tenant.filter(Tenant.Columns.name == name).fetchOne(db) }
    }

    func insertKey(_ record: APIKey) throws {
        try pool.write { db in
            guard try Tenant.fetchOne(db, key: record.tenantId) != nil else {
                throw StoreError.notFound("tenant \(record.tenantId)")
            }
            if try APIKey.filter(APIKey.Columns.keyHash == record.keyHash).fetchOne(db) != nil { return }
            try record.insert(db)
        }
    }

    /// The tenant of a valid, unrevoked key, or nil: unknown, revoked and malformed keys all look
    /// the same to the caller. The lookup is by SHA-256, so no comparison touches the secret.
    func authenticate(hash: [UInt8]) throws -> (tenant: Tenant, key: APIKey)? {
        try pool.read { db in
            guard let record = try APIKey.filter(APIKey.Columns.keyHash == Data(hash)).fetchOne(db), record.revokedAt == nil,
                let tenant = try Tenant.fetchOne(db, key: record.tenantId)
            else { return nil }
            return (tenant, record)
        }
    }

    /// The hot path of every request: the tenant id of a valid, unrevoked key, in one statement on
    /// a raw read connection (see `HotReads`). A single SELECT is atomic on its own.
    func tenantID(forKeyHash hash: [UInt8]) throws -> String? {
        try hot.with { connection in
            try connection.first("SELECT tenant_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", [.blob(hash)]) {
                $0.text(0)
            } ?? nil
        }
    }

    /// Revokes every key that starts with `prefix` (at least 8 characters); returns how many.
    func revokeKeys(prefix: String) throws -> Int {
        try pool.write { db in
            let now = Date(timeIntervalSince1970: clock())
            return try APIKey.filter(APIKey.Columns.prefix.like("\(prefix.prefix(11))%") && APIKey.Columns.revokedAt == nil)
                .fetchAll(db).filter { Store.prefixMatches($0.prefix, prefix) }
                .map { key -> Int in
                    var revoked = key
                    revoked.revokedAt = now
                    try revoked.update(db)
                    return 1
                }.reduce(0, +)
        }
    }

    func hasAdminKey() throws -> Bool {
        try pool.read { db in
            try APIKey.filter(APIKey.Columns.isAdmin == true && APIKey.Columns.revokedAt == nil).fetchCount(db) > 0
        }
    }

    /// `GET /v1/jobs/{id}` in one statement: the key check and the job row in a single read
    /// transaction. Polling is the service's hottest path, and each SQLite read transaction takes
    /// the WAL index locks once; doing auth and lookup separately took them twice per request.
    func poll(job id: String, keyHash hash: [UInt8]) throws -> PolledJob {
        let found: PolledJob? = try hot.with { connection in
            try connection.first(JobRecord.selectPolled, [.text(id), .blob(hash)]) { row in
                // Column 0 is the key's tenant; the job's columns follow, NULL when there is no job.
                row.isNull(1) ? PolledJob.notFound : PolledJob.job(try JobRecord(hotRow: row, firstColumn: 1))
            }
        }
        return found ?? .unauthorized
    }
}
