import Digest
import Foundation

extension Store {
    /// The tenant called `name`, created with these quotas if it does not exist yet.
    public func createTenant(name: String, maxQueuedJobs: Int = 100, maxStorageBytes: Int64 = 100 << 30) throws -> Tenant {
        try backend.createTenant(name: name, maxQueuedJobs: maxQueuedJobs, maxStorageBytes: maxStorageBytes)
    }

    public func tenant(named name: String) throws -> Tenant? { try backend.tenant(named: name) }

    /// A new key with 160 bits of randomness: "qs_" + 32 base32 characters. Only its SHA-256 is stored.
    public func createKey(tenantID: String, admin: Bool = false, plaintext: String? = nil) throws -> CreatedKey {
        let key = plaintext ?? Self.randomKey()
        let record = APIKey(
            id: Store.newID("key"), tenantId: tenantID, prefix: String(key.prefix(11)),
            keyHash: Data(SHA256.hash(Array(key.utf8))),
            isAdmin: admin, createdAt: Date(timeIntervalSince1970: backend.now()), revokedAt: nil)
        try backend.insertKey(record)
        return CreatedKey(plaintext: key, record: record)
    }

    /// The tenant of a valid, unrevoked key, or nil: unknown, revoked and malformed keys all look
    /// the same to the caller. The lookup is by SHA-256, so no comparison touches the secret.
    public func authenticate(_ key: String) throws -> (tenant: Tenant, key: APIKey)? {
        guard let hash = Self.keyHash(key) else { return nil }
        return try backend.authenticate(hash: hash)
    }

    /// The hot path of every request: the tenant id of a valid, unrevoked key, in one statement.
    public func tenantID(forKey key: String) throws -> String? {
        guard let hash = Self.keyHash(key) else { return nil }
        return try backend.tenantID(forKeyHash: hash)
    }

    /// `GET /v1/jobs/{id}` in one statement: the key check and the job row together (polling is the
    /// service's hottest path).
    public func poll(job id: String, key: String) throws -> PolledJob {
        guard let hash = Self.keyHash(key) else { return .unauthorized }
        return try backend.poll(job: id, keyHash: hash)
    }

    /// Revokes every key that starts with `prefix` (at least 8 characters); returns how many.
    public func revokeKeys(prefix: String) throws -> Int {
        guard prefix.count >= 8 else { throw StoreError.invalid("give at least 8 characters of the key prefix") }
        return try backend.revokeKeys(prefix: prefix)
    }

    public func hasAdminKey() throws -> Bool { try backend.hasAdminKey() }

    /// The stored SHA-256 of a presented key, or nil for one that cannot be valid (empty, or
    /// longer than any key this service issues): such keys are refused without a lookup.
    static func keyHash(_ key: String) -> [UInt8]? {
        guard !key.isEmpty, key.utf8.count <= 256 else { return nil }
        return SHA256.hash(key.utf8)
    }

    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        return "qs_" + String((0..<32).map { _ in alphabet[Int(generator.next() % 32)] })
    }

    /// Whether a key prefix shown to users names `key`'s prefix (either may be the shorter).
    static func prefixMatches(_ stored: String, _ given: String) -> Bool {
        stored.hasPrefix(given) || given.hasPrefix(stored)
    }
}
