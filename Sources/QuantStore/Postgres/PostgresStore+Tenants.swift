import Foundation

extension PostgresStore {
    func createTenant(name: String, maxQueuedJobs: Int, maxStorageBytes: Int64) throws -> Tenant {
        try pool.transaction { connection in
            // Replicas that start together both create the admin tenant: the second insert does nothing.
            try connection.query(
                """
                INSERT INTO tenants (id, name, created_at, max_queued_jobs, max_storage_bytes, last_claimed_at)
                VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (name) DO NOTHING
                """, [.text(Store.newID("ten")), .text(name), .double(clock()), PGValue(maxQueuedJobs), .int(maxStorageBytes)])
            guard
                let tenant = try Self.decodeFirst(
                    Tenant.self, connection.query("SELECT * FROM tenants WHERE name = $1", [.text(name)]))
            else {
                throw StoreError.invalid("tenant \(name) vanished while it was created")
            }
            return tenant
        }
    }

    func tenant(named name: String) throws -> Tenant? {
        try pool.read { try Self.decodeFirst(Tenant.self, $0.query("SELECT * FROM tenants WHERE name = $1", [.text(name)])) }
    }

    func insertKey(_ record: APIKey) throws {
        try pool.transaction { connection in
            guard try connection.query("SELECT 1 FROM tenants WHERE id = $1", [.text(record.tenantId)]).first != nil else {
                throw StoreError.notFound("tenant \(record.tenantId)")
            }
            try PGRecordCoding.insert(record, into: "api_keys", on: connection, "ON CONFLICT (key_hash) DO NOTHING")
        }
    }

    func authenticate(hash: [UInt8]) throws -> (tenant: Tenant, key: APIKey)? {
        try pool.read { connection in
            guard
                let key = try Self.decodeFirst(
                    APIKey.self,
                    connection.query("SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", [.bytes(hash)])),
                let tenant = try Self.decodeFirst(
                    Tenant.self, connection.query("SELECT * FROM tenants WHERE id = $1", [.text(key.tenantId)]))
            else { return nil }
            return (tenant, key)
        }
    }

    func tenantID(forKeyHash hash: [UInt8]) throws -> String? {
        try pool.read { connection in
            try connection.query("SELECT tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", [.bytes(hash)])
                .first?["tenant_id"]
        }
    }

    func revokeKeys(prefix: String) throws -> Int {
        try pool.transaction { connection in
            let candidates = try connection.query(
                "SELECT id, prefix FROM api_keys WHERE prefix LIKE $1 AND revoked_at IS NULL FOR UPDATE",
                [.text("\(prefix.prefix(11))%")])
            let ids = candidates.all.filter { Store.prefixMatches($0["prefix"] ?? "", prefix) }.compactMap { $0["id"] }
            for id in ids {
                try connection.query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2", [.double(clock()), .text(id)])
            }
            return ids.count
        }
    }

    func hasAdminKey() throws -> Bool {
        try pool.read { try $0.query("SELECT 1 FROM api_keys WHERE is_admin AND revoked_at IS NULL LIMIT 1").first != nil }
    }

    /// The key check and the job row in one statement, as on SQLite.
    func poll(job id: String, keyHash hash: [UInt8]) throws -> PolledJob {
        try pool.read { connection in
            let rows = try connection.query(
                """
                SELECT k.tenant_id AS key_tenant, j.* FROM api_keys k LEFT JOIN jobs j ON j.id = $1 AND j.tenant_id = k.tenant_id
                WHERE k.key_hash = $2 AND k.revoked_at IS NULL
                """, [.text(id), .bytes(hash)])
            guard let row = rows.first else { return .unauthorized }
            guard row["id"] != nil else { return .notFound }
            return .job(try PGRecordCoding.decode(JobRecord.self, from: row))
        }
    }
}
