import Digest
import Foundation
import QuantTesting
import Synchronization
import Testing

@testable import QuantStore

/// The two engines behind the store; every store test runs on both.
enum Engine: String, CaseIterable, Sendable {
    case sqlite, postgres
}

/// A store on a real SQLite file in a fresh directory, or in a fresh database on the test PostgreSQL
/// server, with a clock the test moves.
final class TestClock: Sendable {
    let time = Mutex<Double>(1_000_000)
    func now() -> Double { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 += seconds } }
}

final class TestStore: @unchecked Sendable {
    let directory: URL
    let clock = TestClock()
    var store: Store!

    init(_ engine: Engine = .sqlite) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clock = clock
        switch engine {
        case .sqlite: store = try Store(path: directory.appendingPathComponent("quant.db").path, clock: { clock.now() })
        case .postgres: store = try Store(postgresURL: try Self.freshPostgresDatabase(), clock: { clock.now() })
        }
    }

    /// A new, empty database on the test server (each test gets its own).
    static func freshPostgresDatabase() throws -> String { try TestPostgres.freshDatabase() }

    func advance(_ seconds: Double) { clock.advance(seconds) }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func model(_ tenant: String) throws -> ModelRecord {
        try store.scope(tenant).addModel(
            .init(
                name: "m", format: "safetensors", size: 10, sha256: "ab", tensorCount: 1, parameterCount: 2,
                blobPath: "/x/\(UUID())"))
    }
}

@Suite("Store: tenants, keys, jobs")
struct StoreTests {
    @Test func sha256KnownVectors() {
        #expect(SHA256.hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(SHA256.hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func splitUpdatesGiveTheSameDigest() {
        // Split updates give the same digest as one.
        let text = Array((0..<1000).map { UInt8(truncatingIfNeeded: $0) })
        var split = SHA256()
        split.update(text[0..<3])
        split.update(text[3..<130])
        split.update(text[130...])
        #expect(split.finalize() == SHA256.hash(text))
    }

    @Test(arguments: Engine.allCases) func keysAuthenticateAndRevoke(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "acme")
        let key = try t.store.createKey(tenantID: tenant.id)
        #expect(key.plaintext.hasPrefix("qs_") && key.plaintext.count == 35)
        #expect(try t.store.authenticate(key.plaintext)?.tenant.id == tenant.id)
        #expect(try t.store.authenticate(key.plaintext + "x") == nil)
        #expect(try t.store.authenticate("") == nil)
        #expect(try t.store.revokeKeys(prefix: key.record.prefix) == 1)
        #expect(try t.store.authenticate(key.plaintext) == nil)
        #expect(throws: StoreError.self) { try t.store.revokeKeys(prefix: "qs_") }
    }

    @Test func everyTransitionLegalAndIllegal() {
        for from in JobState.allCases {
            for to in JobState.allCases {
                let legal: Bool =
                    switch (from, to) {
                    case (.queued, .running), (.queued, .cancelled), (.running, .succeeded), (.running, .failed),
                        (.running, .cancelled),
                        (.running, .queued):
                        true
                    default: false
                    }
                #expect(from.canTransition(to: to) == legal, "\(from) -> \(to)")
            }
        }
    }

    @Test(arguments: Engine.allCases) func lifecycleThroughTheQueue(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "a")
        let model = try t.model(tenant.id)
        let (job, created) = try t.store.scope(tenant.id).submit(.init(modelID: model.id, recipe: "{}"))
        #expect(created && job.state == .queued)
        let claim = try #require(try t.store.claim(worker: "w1", leaseSeconds: 30))
        #expect(claim.job.id == job.id && claim.attempt == 1 && claim.job.state == .running && claim.model.id == model.id)
        #expect(try t.store.claim(worker: "w2", leaseSeconds: 30) == nil)
        #expect(try t.store.renewLease(job: job.id, attempt: 1, worker: "w1", leaseSeconds: 30) == .held)
        #expect(try t.store.updateProgress(job: job.id, attempt: 1, done: 5, total: 10))
        try t.store.complete(
            job: job.id, attempt: 1,
            result: CompletedJob(
                artifactPath: "/a", artifactSize: 3, artifactSha256: "00", summary: "{}", tensors: [("w", 30.5, 8.1, "{}")],
                expiresAt: nil))
        let done = try t.store.scope(tenant.id).job(job.id)
        #expect(done.state == .succeeded && done.artifactPath == "/a")
        #expect(try t.store.scope(tenant.id).metrics(of: job.id).map(\.name) == ["w"])
        #expect(try t.store.scope(tenant.id).events(of: job.id).map(\.toState) == [.queued, .running, .succeeded])
        // Terminal: no way out.
        #expect(throws: StoreError.self) { try t.store.scope(tenant.id).cancel(job.id) }
        #expect(throws: StoreError.self) { try t.store.markCancelled(job: job.id, attempt: 1) }
        #expect(throws: StoreError.self) {
            _ = try t.store.fail(job: job.id, attempt: 1, code: "x", message: "y", transient: true, retryDelay: 1)
        }
    }

    @Test(arguments: Engine.allCases) func staleWorkerChangesNothing(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "a")
        let job = try t.store.scope(tenant.id).submit(.init(modelID: try t.model(tenant.id).id, recipe: "{}")).job
        _ = try t.store.claim(worker: "old", leaseSeconds: 10)
        t.advance(11)
        #expect(try t.store.requeueAbandoned().map(\.id) == [job.id])
        let second = try #require(try t.store.claim(worker: "new", leaseSeconds: 10))
        #expect(second.attempt == 2)
        // The first worker wakes up and tries to finish: rejected, and nothing changes.
        #expect(throws: StoreError.staleWorker(job: job.id)) {
            try t.store.complete(
                job: job.id, attempt: 1,
                result: CompletedJob(
                    artifactPath: "/old", artifactSize: 1, artifactSha256: "", summary: "", tensors: [], expiresAt: nil))
        }
        #expect(try t.store.renewLease(job: job.id, attempt: 1, worker: "old", leaseSeconds: 10) == .lost)
        #expect(try t.store.updateProgress(job: job.id, attempt: 1, done: 1, total: 1) == false)
        #expect(throws: StoreError.self) {
            _ = try t.store.fail(job: job.id, attempt: 1, code: "x", message: "", transient: false, retryDelay: 0)
        }
        let current = try t.store.scope(tenant.id).job(job.id)
        #expect(current.state == .running && current.attempt == 2 && current.artifactPath == nil && current.leaseOwner == "new")
    }

    @Test(arguments: Engine.allCases) func idempotency(engine: Engine) throws {
        let t = try TestStore(engine)
        let a = try t.store.createTenant(name: "a")
        let b = try t.store.createTenant(name: "b")
        let ma = try t.model(a.id)
        let mb = try t.model(b.id)
        let first = try t.store.scope(a.id).submit(.init(modelID: ma.id, recipe: "{}", idempotencyKey: "k1", requestHash: "h1"))
        let again = try t.store.scope(a.id).submit(.init(modelID: ma.id, recipe: "{}", idempotencyKey: "k1", requestHash: "h1"))
        #expect(first.created && !again.created && first.job.id == again.job.id)
        #expect(throws: StoreError.idempotencyConflict(key: "k1")) {
            try t.store.scope(a.id).submit(.init(modelID: ma.id, recipe: "{\"x\":1}", idempotencyKey: "k1", requestHash: "h2"))
        }
        // Keys are per tenant: another tenant may use the same one.
        #expect(
            try t.store.scope(b.id).submit(.init(modelID: mb.id, recipe: "{}", idempotencyKey: "k1", requestHash: "h1")).created)
        #expect(try t.store.scope(a.id).jobs().count == 1)
    }

    @Test(arguments: Engine.allCases) func tenantScoping(engine: Engine) throws {
        let t = try TestStore(engine)
        let a = try t.store.createTenant(name: "a")
        let b = try t.store.createTenant(name: "b")
        let model = try t.model(a.id)
        let job = try t.store.scope(a.id).submit(.init(modelID: model.id, recipe: "{}")).job
        let other = t.store.scope(b.id)
        #expect(throws: StoreError.notFound("model \(model.id)")) { try other.model(model.id) }
        #expect(throws: StoreError.notFound("job \(job.id)")) { try other.job(job.id) }
        #expect(throws: StoreError.notFound("job \(job.id)")) { try other.cancel(job.id) }
        #expect(throws: StoreError.notFound("job \(job.id)")) { try other.deleteJob(job.id) }
        #expect(throws: StoreError.notFound("model \(model.id)")) { try other.deleteModel(model.id, removeBlob: { _ in }) }
        #expect(throws: StoreError.notFound("model \(model.id)")) { try other.submit(.init(modelID: model.id, recipe: "{}")) }
        #expect(throws: StoreError.notFound("job \(job.id)")) { try other.events(of: job.id) }
        #expect(try other.jobs().isEmpty && other.models().isEmpty)
        #expect(try t.store.scope(a.id).job(job.id).id == job.id)
    }

    @Test(arguments: Engine.allCases) func fairnessAcrossTenants(engine: Engine) throws {
        let t = try TestStore(engine)
        let busy = try t.store.createTenant(name: "busy", maxQueuedJobs: 1000)
        let quiet = try t.store.createTenant(name: "quiet")
        let busyModel = try t.model(busy.id)
        let quietModel = try t.model(quiet.id)
        for _ in 0..<100 {
            _ = try t.store.scope(busy.id).submit(.init(modelID: busyModel.id, recipe: "{}"))
            t.advance(0.001)
        }
        let single = try t.store.scope(quiet.id).submit(.init(modelID: quietModel.id, recipe: "{}")).job
        // The quiet tenant's only job is claimed within the first two claims, not after 100.
        var claimed: [String] = []
        for _ in 0..<2 {
            t.advance(1)
            claimed.append(try #require(try t.store.claim(worker: "w", leaseSeconds: 60)).job.id)
        }
        #expect(claimed.contains(single.id))
    }

    @Test(arguments: Engine.allCases) func cancellation(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "a")
        let model = try t.model(tenant.id)
        let scope = t.store.scope(tenant.id)
        let queued = try scope.submit(.init(modelID: model.id, recipe: "{}")).job
        #expect(try scope.cancel(queued.id).state == .cancelled)
        let running = try scope.submit(.init(modelID: model.id, recipe: "{}")).job
        _ = try #require(try t.store.claim(worker: "w", leaseSeconds: 30))
        #expect(try scope.cancel(running.id).cancelRequested)
        #expect(try t.store.renewLease(job: running.id, attempt: 1, worker: "w", leaseSeconds: 30) == .cancelRequested)
        try t.store.markCancelled(job: running.id, attempt: 1)
        #expect(try scope.job(running.id).state == .cancelled)
        #expect(try scope.events(of: running.id).last?.reason == "cancelled by request")
    }

    @Test(arguments: Engine.allCases) func retriesThenMaximumAttempts(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "a")
        let job = try t.store.scope(tenant.id).submit(.init(modelID: try t.model(tenant.id).id, recipe: "{}", maxAttempts: 3)).job
        for attempt in 1...3 {
            let claim = try #require(try t.store.claim(worker: "w", leaseSeconds: 30), "attempt \(attempt)")
            #expect(claim.attempt == attempt)
            let next = try t.store.fail(
                job: job.id, attempt: attempt, code: "io_error", message: "disk hiccup", transient: true, retryDelay: 5)
            #expect(next == (attempt < 3 ? .queued : .failed))
            // Backoff: not claimable before the delay.
            #expect(try t.store.claim(worker: "w", leaseSeconds: 30) == nil)
            t.advance(5)
        }
        let failed = try t.store.scope(tenant.id).job(job.id)
        #expect(failed.state == .failed && failed.errorCode == "io_error" && failed.attempt == 3)
        // A permanent error fails at once.
        let bad = try t.store.scope(tenant.id).submit(.init(modelID: try t.model(tenant.id).id, recipe: "{}")).job
        _ = try t.store.claim(worker: "w", leaseSeconds: 30)
        #expect(
            try t.store.fail(
                job: bad.id, attempt: 1, code: "bad_model", message: "not safetensors", transient: false, retryDelay: 5)
                == .failed)
    }

    @Test(arguments: Engine.allCases) func abandonedJobsAfterMaxAttemptsFailWithTheReason(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "a")
        let job = try t.store.scope(tenant.id).submit(.init(modelID: try t.model(tenant.id).id, recipe: "{}", maxAttempts: 2)).job
        for _ in 1...2 {
            _ = try #require(try t.store.claim(worker: "dies", leaseSeconds: 10))
            // A single SQLite node re-queues every running job at start-up; replicas on PostgreSQL
            // only those whose lease expired.
            if engine == .postgres { t.advance(11) }
            #expect(try t.store.requeueAbandoned(all: true).count == 1)
        }
        let failed = try t.store.scope(tenant.id).job(job.id)
        #expect(failed.state == .failed && failed.errorCode == "worker_lost")
        #expect(failed.errorMessage?.contains("no attempts left") == true)
    }

    @Test(arguments: Engine.allCases) func quotasAndModelDeletion(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "q", maxQueuedJobs: 2, maxStorageBytes: 25)
        let model = try t.model(tenant.id)
        let scope = t.store.scope(tenant.id)
        _ = try scope.submit(.init(modelID: model.id, recipe: "{}"))
        _ = try scope.submit(.init(modelID: model.id, recipe: "{}"))
        #expect(throws: StoreError.self) { try scope.submit(.init(modelID: model.id, recipe: "{}")) }
        _ = try t.model(tenant.id)
        #expect(throws: StoreError.self) { try t.model(tenant.id) }  // 30 bytes > 25
        #expect(throws: StoreError.self) { try scope.deleteModel(model.id, removeBlob: { _ in }) }  // jobs use it
        let jobs = try scope.jobs()
        for job in jobs { _ = try scope.cancel(job.id) }
        let deletion = try scope.deleteModel(model.id, removeBlob: { _ in })
        #expect(deletion.blobPath == model.blobPath)
        #expect(Set(deletion.jobIDs) == Set(jobs.map(\.id)) && deletion.jobIDs.count == 2)  // the finished jobs went with it
        #expect(try scope.jobs().isEmpty)
    }

    /// A blob named by two tenants' rows is removed with the last of them, once, inside the
    /// transaction that deletes it.
    @Test(arguments: Engine.allCases) func sharedBlobRemovedWithItsLastRow(engine: Engine) throws {
        let t = try TestStore(engine)
        let path = "/blobs/\(UUID())"
        let removed = Mutex<[String]>([])
        var ids: [(scope: TenantScope, id: String)] = []
        for name in ["a", "b"] {
            let scope = t.store.scope(try t.store.createTenant(name: name).id)
            var placed = false
            let model = try scope.addModel(
                .init(
                    name: "m", format: "safetensors", size: 10, sha256: "ab", tensorCount: 1, parameterCount: 2, blobPath: path),
                placeBlob: { placed = true })
            #expect(placed)
            ids.append((scope, model.id))
        }
        #expect(try ids[0].scope.deleteModel(ids[0].id, removeBlob: { p in removed.withLock { $0.append(p) } }).blobPath == nil)
        #expect(removed.withLock { $0 }.isEmpty)
        #expect(try ids[1].scope.deleteModel(ids[1].id, removeBlob: { p in removed.withLock { $0.append(p) } }).blobPath == path)
        #expect(removed.withLock { $0 } == [path])
    }

    /// Two tenants keep uploading and deleting the same content at once (as two replicas would):
    /// while a tenant's row exists, the file it names exists. Placing and removing the file happen
    /// under the blob's lock, so a delete cannot remove the file between another add's check that
    /// the content is stored and its new row.
    @Test(arguments: Engine.allCases) func concurrentAddAndDeleteOfOneBlob(engine: Engine) throws {
        let t = try TestStore(engine)
        let path = t.directory.appendingPathComponent("blob-\(UUID())").path
        let scopes = try ["a", "b"].map { t.store.scope(try t.store.createTenant(name: $0).id) }
        let missing = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            for _ in 0..<150 {
                do {
                    let model = try scopes[index].addModel(
                        .init(
                            name: "m", format: "safetensors", size: 1, sha256: "ab", tensorCount: 1, parameterCount: 1,
                            blobPath: path),
                        placeBlob: {
                            if !FileManager.default.fileExists(atPath: path) {
                                FileManager.default.createFile(atPath: path, contents: Data([1]))
                            }
                        })
                    if !FileManager.default.fileExists(atPath: path) { missing.add(1, ordering: .relaxed) }
                    try scopes[index].deleteModel(model.id, removeBlob: { try? FileManager.default.removeItem(atPath: $0) })
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")
        #expect(missing.load(ordering: .relaxed) == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test(arguments: Engine.allCases) func pagination(engine: Engine) throws {
        let t = try TestStore(engine)
        let tenant = try t.store.createTenant(name: "p", maxQueuedJobs: 100)
        let model = try t.model(tenant.id)
        var ids: [String] = []
        for _ in 0..<7 {
            ids.append(try t.store.scope(tenant.id).submit(.init(modelID: model.id, recipe: "{}")).job.id)
            t.advance(1)
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try t.store.scope(tenant.id).jobs(limit: 3, cursor: cursor)
            seen += page.map(\.id)
            cursor = page.count == 3 ? page.last?.id : nil
        } while cursor != nil
        #expect(seen == ids.reversed())
    }
}
