import Digest
import Foundation
import ModelFormats
import QuantCore
import QuantService
import QuantStore
import Testing

@Suite("Workers", .serialized)
struct WorkerTests {
    @Test func jobRunsToADurableArtifact() throws {
        let f = try ServiceFixture()
        let model = try f.model()
        let job = try f.submit(model)
        let pool = WorkerPool(store: f.store, data: f.data, workers: 2, settings: settings())
        try pool.start()
        let done = try f.wait(for: job.id) { $0.state.isTerminal }
        pool.stop(deadline: 5)
        #expect(done.state == .succeeded, "\(done.errorCode ?? "") \(done.errorMessage ?? "")")
        let path = try #require(done.artifactPath)
        let file = try SafetensorsFile(path: path)
        #expect(
            file.tensors.map(\.name).sorted() == [
                "layers.0.weight", "layers.0.weight.scale", "layers.1.weight", "layers.1.weight.scale",
            ])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(SHA256.hex(SHA256.hash(bytes)) == done.artifactSha256 && Int64(bytes.count) == done.artifactSize)
        let metrics = try f.scope.metrics(of: job.id)
        #expect(metrics.map(\.name) == ["layers.0.weight", "layers.1.weight"])
        #expect(metrics.allSatisfy { ($0.sqnrDb ?? 0) > 30 })
        #expect(try f.scope.events(of: job.id).map(\.toState) == [.queued, .running, .succeeded])
        #expect(pool.counters.registry.emitToString().contains("quantd_job_attempts_total{state=\"succeeded\"} 1\n"))
    }

    @Test func cancellingARunningJobStopsItAndLeavesNoFiles() throws {
        let f = try ServiceFixture()
        let model = try f.model(tensors: 40, rows: 64, cols: 64)
        let job = try f.submit(model)
        let pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings(lease: 0.6, chunkDelay: 0.05))
        try pool.start()
        _ = try f.wait(for: job.id) { $0.state == .running }
        _ = try f.scope.cancel(job.id)
        let done = try f.wait(for: job.id, timeout: 10) { $0.state.isTerminal }
        pool.stop(deadline: 5)
        #expect(done.state == .cancelled)
        #expect(f.files.filter { $0.hasPrefix("artifacts/") && !$0.hasSuffix("/") }.isEmpty, "\(f.files)")
    }

    @Test func transientFailuresRetryThenFail() throws {
        let f = try ServiceFixture()
        let model = try f.model()
        // A real fault: the model's blob disappears after the job was accepted.
        try FileManager.default.removeItem(atPath: model.blobPath)
        let job = try f.submit(model, maxAttempts: 2)
        let pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings(), poll: 0.05)
        try pool.start(recover: false)
        let done = try f.wait(for: job.id, timeout: 20) { $0.state.isTerminal }
        pool.stop(deadline: 5)
        #expect(done.state == .failed && done.errorCode == "io_error" && done.attempt == 2)
        let events = try f.scope.events(of: job.id)
        #expect(events.map(\.toState) == [.queued, .running, .queued, .running, .failed])
        #expect(events[2].reason?.contains("retrying") == true)
    }

    @Test func permanentFailuresFailAtOnce() throws {
        let f = try ServiceFixture()
        let model = try f.model(cols: 40)
        // Rows of 40 values cannot be Q4_0 blocks: the recipe does not apply to this model.
        let job = try f.submit(model, recipe: #"{"preset": "q4_0"}"#)
        let pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings())
        try pool.start()
        let done = try f.wait(for: job.id) { $0.state.isTerminal }
        pool.stop(deadline: 5)
        #expect(done.state == .failed && done.errorCode == "recipe_not_applicable" && done.attempt == 1)
        #expect(done.errorMessage?.contains("layers.0.weight") == true)
    }

    @Test func startupRemovesOrphans() throws {
        let f = try ServiceFixture()
        let orphan = f.root.appendingPathComponent("artifacts/job_gone/attempt-1.safetensors")
        try FileManager.default.createDirectory(at: orphan.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: orphan)
        try Data([4]).write(to: f.root.appendingPathComponent("tmp/upload-123"))
        let kept = try f.model()
        let pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings())
        try pool.start()
        pool.stop(deadline: 5)
        #expect(!FileManager.default.fileExists(atPath: orphan.path))
        #expect(f.files.filter { $0.hasPrefix("tmp/") }.isEmpty)
        #expect(FileManager.default.fileExists(atPath: kept.blobPath))
    }
}

@Suite("Retention and persistence", .serialized)
struct RetentionTests {
    @Test func expiredArtifactsAreCollected() throws {
        let f = try ServiceFixture()
        let job = try f.submit(try f.model())
        var s = settings()
        s.artifactTTL = 0.3
        let pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: s)
        try pool.start()
        let done = try f.wait(for: job.id) { $0.state.isTerminal }
        let path = try #require(done.artifactPath)
        #expect(FileManager.default.fileExists(atPath: path))
        // The maintenance timer runs every second.
        let gone = try f.wait(for: job.id, timeout: 5) { $0.artifactPath == nil }
        pool.stop(deadline: 5)
        #expect(gone.state == .succeeded && !FileManager.default.fileExists(atPath: path))
    }

    @Test func reopeningKeepsEverything() throws {
        let f = try ServiceFixture()
        let job = try f.submit(try f.model())
        let again = try f.data.openStore()  // migrations run again: nothing to do
        #expect(try again.scope(f.tenant.id).job(job.id).id == job.id)
        #expect(try again.tenant(named: "acme")?.id == f.tenant.id)
    }
}
