import Digest
import Foundation
import GRDB

/// A freshly created key: the plaintext is shown once and never stored.
public struct CreatedKey: Sendable {
    public let plaintext: String
    public let record: APIKey
}

extension Store {
    public func createTenant(name: String, maxQueuedJobs: Int = 100, maxStorageBytes: Int64 = 100 << 30) throws -> Tenant {
        try immediate { db in
            if let existing = try Tenant.filter(Column("name") == name).fetchOne(db) { return existing }
            let tenant = Tenant(
                id: Store.newID("ten"), name: name, createdAt: Date(timeIntervalSince1970: clock()), maxQueuedJobs: maxQueuedJobs,
                maxStorageBytes: maxStorageBytes, lastClaimedAt: 0)
            try tenant.insert(db)
            return tenant
        }
    }

    public func tenant(named name: String) throws -> Tenant? {
        try pool.read { db in try Tenant.filter(Column("name") == name).fetchOne(db) }
    }

    /// A new key with 160 bits of randomness: "qs_" + 32 base32 characters.
    public func createKey(tenantID: String, admin: Bool = false, plaintext: String? = nil) throws -> CreatedKey {
        let key = plaintext ?? Self.randomKey()
        let record = APIKey(
            id: Store.newID("key"), tenantId: tenantID, prefix: String(key.prefix(11)), keyHash: Data(SHA256.hash(Array(key.utf8))),
            isAdmin: admin, createdAt: Date(timeIntervalSince1970: clock()), revokedAt: nil)
        try immediate { db in
            guard try Tenant.fetchOne(db, key: tenantID) != nil else { throw StoreError.notFound("tenant \(tenantID)") }
            if try APIKey.filter(Column("key_hash") == record.keyHash).fetchOne(db) != nil { return }
            try record.insert(db)
        }
        return CreatedKey(plaintext: key, record: record)
    }

    /// The tenant of a valid, unrevoked key, or nil: unknown, revoked and malformed keys all look
    /// the same to the caller. The lookup is by SHA-256, so no comparison touches the secret.
    public func authenticate(_ key: String) throws -> (tenant: Tenant, key: APIKey)? {
        guard let hash = Self.keyHash(key).map({ Data($0) }) else { return nil }
        return try pool.read { db in
            guard let record = try APIKey.filter(Column("key_hash") == hash).fetchOne(db), record.revokedAt == nil,
                let tenant = try Tenant.fetchOne(db, key: record.tenantId)
            else { return nil }
            return (tenant, record)
        }
    }

    /// The hot path of every request: the tenant id of a valid, unrevoked key, in one statement on
    /// a raw read connection (see `HotReads`). A single SELECT is atomic on its own.
    public func tenantID(forKey key: String) throws -> String? {
        guard let hash = Self.keyHash(key) else { return nil }
        return try hot.with { connection in
            try connection.first("SELECT tenant_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", [.blob(hash)]) { $0.text(0) } ?? nil
        }
    }

    /// The stored SHA-256 of a presented key, or nil for one that cannot be valid (empty, or
    /// longer than any key this service issues): such keys are refused without a lookup.
    static func keyHash(_ key: String) -> [UInt8]? {
        guard !key.isEmpty, key.utf8.count <= 256 else { return nil }
        return SHA256.hash(key.utf8)
    }

    /// Revokes every key that starts with `prefix` (at least 8 characters); returns how many.
    public func revokeKeys(prefix: String) throws -> Int {
        guard prefix.count >= 8 else { throw StoreError.invalid("give at least 8 characters of the key prefix") }
        return try immediate { db in
            let now = Date(timeIntervalSince1970: clock())
            return try APIKey.filter(Column("prefix").like("\(prefix.prefix(11))%") && Column("revoked_at") == nil)
                .fetchAll(db).filter { $0.prefix.hasPrefix(prefix) || prefix.hasPrefix($0.prefix) }
                .map { key -> Int in
                    var revoked = key
                    revoked.revokedAt = now
                    try revoked.update(db)
                    return 1
                }.reduce(0, +)
        }
    }

    public func hasAdminKey() throws -> Bool {
        try pool.read { db in try APIKey.filter(Column("is_admin") == true && Column("revoked_at") == nil).fetchCount(db) > 0 }
    }

    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        return "qs_" + String((0..<32).map { _ in alphabet[Int(generator.next() % 32)] })
    }
}
