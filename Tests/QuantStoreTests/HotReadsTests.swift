import Foundation
import GRDB
import Testing

@testable import QuantStore

/// The polling path reads job rows with raw SQLite (`HotReads`); GRDB's decoding is the reference.
@Suite("Hot reads: polling without GRDB's queues")
struct HotReadsTests {
    /// The job as GRDB decodes it, for comparison.
    func reference(_ t: TestStore, _ id: String) throws -> JobRecord? {
        try t.store.sqlitePool.read { db in try JobRecord.fetchOne(db, key: id) }
    }

    @Test func rawDecodingEqualsGRDBInEveryState() throws {
        let t = try TestStore()
        let tenant = try t.store.createTenant(name: "a")
        let key = try t.store.createKey(tenantID: tenant.id).plaintext
        let scope = t.store.scope(tenant.id)
        let model = try t.model(tenant.id)
        func check(_ id: String, _ expected: JobState) throws {
            let raw = try scope.job(id)
            #expect(raw.state == expected)
            #expect(raw == (try reference(t, id)))
            guard case .job(let polled) = try t.store.poll(job: id, key: key) else {
                Issue.record("poll did not find \(id)")
                return
            }
            #expect(polled == raw)
        }
        // Queued, with a name, idempotency key and request hash (optional text columns set).
        let job = try scope.submit(
            .init(
                modelID: model.id, recipe: #"{"preset":"int8","é":"\""}"#, name: "naïve ✓", idempotencyKey: "k", requestHash: "h")
        ).job
        try check(job.id, .queued)
        // Running: lease owner and expiry, started_at; then progress.
        _ = try #require(try t.store.claim(worker: "w1", leaseSeconds: 30))
        #expect(try t.store.updateProgress(job: job.id, attempt: 1, done: 7, total: 9))
        try check(job.id, .running)
        // Succeeded: artifact columns, summary, expiry.
        try t.store.complete(
            job: job.id, attempt: 1,
            result: CompletedJob(
                artifactPath: "/a", artifactSize: 1 << 40, artifactSha256: "00ff", summary: #"{"sqnr_db":30.25}"#, tensors: [],
                expiresAt: 2e9))
        try check(job.id, .succeeded)
        // Failed: error code and message.
        let second = try scope.submit(.init(modelID: model.id, recipe: "{}")).job
        _ = try #require(try t.store.claim(worker: "w1", leaseSeconds: 30))
        _ = try t.store.fail(
            job: second.id, attempt: 1, code: "bad_input", message: "line\nbreak", transient: false, retryDelay: 0)
        try check(second.id, .failed)
    }

    @Test func pollTellsUnauthorizedFromMissing() throws {
        let t = try TestStore()
        let a = try t.store.createTenant(name: "a")
        let b = try t.store.createTenant(name: "b")
        let keyA = try t.store.createKey(tenantID: a.id).plaintext
        let keyB = try t.store.createKey(tenantID: b.id).plaintext
        let job = try t.store.scope(a.id).submit(.init(modelID: try t.model(a.id).id, recipe: "{}")).job
        guard case .job = try t.store.poll(job: job.id, key: keyA) else {
            Issue.record("owner must see the job")
            return
        }
        // Another tenant's job and a missing job look the same.
        guard case .notFound = try t.store.poll(job: job.id, key: keyB) else {
            Issue.record("other tenant must get notFound")
            return
        }
        guard case .notFound = try t.store.poll(job: "job_missing", key: keyA) else {
            Issue.record("missing job must be notFound")
            return
        }
        // Unknown, empty, oversized and revoked keys.
        for key in ["qs_unknown", "", String(repeating: "x", count: 300)] {
            guard case .unauthorized = try t.store.poll(job: job.id, key: key) else {
                Issue.record("key \(key.prefix(12)) must be refused")
                return
            }
        }
        #expect(try t.store.revokeKeys(prefix: String(keyA.prefix(11))) == 1)
        guard case .unauthorized = try t.store.poll(job: job.id, key: keyA) else {
            Issue.record("a revoked key must be refused")
            return
        }
        #expect(try t.store.tenantID(forKey: keyA) == nil)
        #expect(try t.store.tenantID(forKey: keyB) == b.id)
    }

    /// Writes through GRDB are seen by the raw readers at once (WAL, new read transaction per poll).
    @Test func readersSeeCommittedWrites() throws {
        let t = try TestStore()
        let tenant = try t.store.createTenant(name: "a")
        let key = try t.store.createKey(tenantID: tenant.id).plaintext
        let job = try t.store.scope(tenant.id).submit(.init(modelID: try t.model(tenant.id).id, recipe: "{}")).job
        _ = try #require(try t.store.claim(worker: "w", leaseSeconds: 30))
        for done in Int64(1)...20 {
            #expect(try t.store.updateProgress(job: job.id, attempt: 1, done: done, total: 20))
            guard case .job(let polled) = try t.store.poll(job: job.id, key: key) else {
                Issue.record("lost the job")
                return
            }
            #expect(polled.progressDone == done)
        }
    }

    /// Many threads polling at once share the connection stack without errors.
    @Test func concurrentPolls() async throws {
        let t = try TestStore()
        let tenant = try t.store.createTenant(name: "a")
        let key = try t.store.createKey(tenantID: tenant.id).plaintext
        let job = try t.store.scope(tenant.id).submit(.init(modelID: try t.model(tenant.id).id, recipe: "{}")).job
        let store = t.store!
        let found = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var hits = 0
                    for _ in 0..<500 { if case .job = try store.poll(job: job.id, key: key) { hits += 1 } }
                    return hits
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(found == 8 * 500)
    }
}

@Suite("Store backup")
struct BackupTests {
    /// The online backup is a consistent database another Store opens, with every row.
    @Test func backupWhileInUse() throws {
        let t = try TestStore()
        let tenant = try t.store.createTenant(name: "a")
        let key = try t.store.createKey(tenantID: tenant.id).plaintext
        let job = try t.store.scope(tenant.id).submit(.init(modelID: try t.model(tenant.id).id, recipe: "{}")).job
        let path = t.directory.appendingPathComponent("backup.db").path
        try t.store.backup(to: path)
        #expect(throws: StoreError.self) { try t.store.backup(to: path) }
        let copy = try Store(path: path)
        #expect(try copy.tenantID(forKey: key) == tenant.id)
        #expect(try copy.scope(tenant.id).job(job.id) == (try t.store.scope(tenant.id).job(job.id)))
    }
}

extension Store {
    /// The GRDB pool of an SQLite store, for tests that read around the store's API.
    var sqlitePool: DatabasePool { (backend as! SQLiteStore).pool }
}
