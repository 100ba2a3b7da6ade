import Foundation
import QuantAPI
import QuantClient
import Testing

/// Jobs that are cancelled, servers that restart or go away, downloads that break, many clients.
@Suite("End to end: cancellation, restarts, retries, concurrency", .serialized)
struct LifecycleTests {
    /// Slow jobs (each tensor chunk waits) so there is time to act while one runs.
    static let slow = ["QUANTD_TEST_CHUNK_DELAY_MS": "40"]

    func waitUntilRunning(_ client: QuantClient, _ id: String) throws -> Job {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let job = try client.job(id)
            if job.status == "running" && job.progress.done > 0 { return job }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw E2EError("job \(id) never started")
    }

    @Test func cancelARunningJob() throws {
        let server = try LiveServer(workers: 1, environment: Self.slow)
        let files = try Fixtures()
        let client = try server.client()
        let model = try client.uploadModel(path: try files.model(layers: 40, rows: 64, cols: 256))
        let job = try client.submitJob(modelID: model.id, preset: "int8")
        _ = try waitUntilRunning(client, job.id)
        _ = try client.cancelJob(job.id)
        do {
            _ = try client.waitForJob(job.id, initialInterval: 0.05)
            Issue.record("a cancelled job must not succeed")
        } catch ClientError.jobFailed(_, let status, _, _) {
            #expect(status == "cancelled")
        }
        #expect(throws: ClientError.self) { try client.downloadArtifact(ofJob: job.id, to: files.path("none")) }
        // A terminal job can be deleted; then it is gone.
        try client.deleteJob(job.id)
        #expect((try? client.job(job.id)) == nil)
    }

    /// quantd is killed (SIGKILL) in the middle of a job and started again on the same data
    /// directory and port; the client keeps polling through the outage and gets a correct artifact.
    @Test func serverKilledMidJob() throws {
        let server = try LiveServer(workers: 1, environment: Self.slow)
        let files = try Fixtures()
        let client = try server.client(maxAttempts: 30)
        let modelPath = try files.model(layers: 30, rows: 64, cols: 256)
        let model = try client.uploadModel(path: modelPath)
        let job = try client.submitJob(modelID: model.id, preset: "int4-g128")
        let running = try waitUntilRunning(client, job.id)
        #expect(running.attempt == 1)
        server.stop(signal: SIGKILL)
        let restart = Thread {
            Thread.sleep(forTimeInterval: 1)
            try? server.start()
        }
        restart.start()
        let done = try client.waitForJob(job.id, initialInterval: 0.1)
        #expect(done.status == "succeeded" && done.attempt == 2)
        let artifact = files.path("after-restart.safetensors")
        try client.downloadArtifact(ofJob: job.id, to: artifact)
        let original = try files.tensors(of: modelPath, dequantize: false)
        let restored = try files.tensors(of: artifact, dequantize: true)
        for (name, values) in original where name.hasSuffix(".weight") {
            #expect(Fixtures.sqnr(values, try #require(restored[name])) > 15, "\(name)")
        }
    }

    /// The server is down for about two seconds; calls made meanwhile are retried and succeed.
    @Test func retriesAcrossAnOutage() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client(maxAttempts: 12)
        let model = try client.uploadModel(path: try files.model())
        server.stop(signal: SIGTERM)
        let started = Date()
        let restart = Thread {
            Thread.sleep(forTimeInterval: 2)
            try? server.start()
        }
        restart.start()
        // Submitting is retried with the same Idempotency-Key, so it makes exactly one job.
        let job = try client.submitJob(modelID: model.id, preset: "q8_0")
        #expect(Date().timeIntervalSince(started) >= 1.5, "the call should have waited for the server")
        _ = try client.waitForJob(job.id, initialInterval: 0.05)
        #expect(try client.jobs().jobs.count == 1)
        // With retries off, the same outage is a typed network error.
        server.stop(signal: SIGTERM)
        let impatient = try server.client(maxAttempts: 1)
        do {
            _ = try impatient.models()
            Issue.record("expected a network error")
        } catch ClientError.network(let code, _) {
            #expect(code == 7)
        }
    }

    /// An interrupted download resumes with Range; a corrupted partial file is caught by the sha256.
    @Test func downloadsResumeAndAreVerified() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let model = try client.uploadModel(path: try files.model(layers: 4))
        let job = try client.waitForJob(try client.submitJob(modelID: model.id, preset: "fp16").id, initialInterval: 0.05)
        let whole = files.path("whole.safetensors")
        try client.downloadArtifact(ofJob: job.id, to: whole)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))

        let resumed = files.path("resumed.safetensors")
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: resumed + ".partial"))
        try client.downloadArtifact(ofJob: job.id, to: resumed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: resumed)) == bytes)
        #expect(!FileManager.default.fileExists(atPath: resumed + ".partial"))

        let corrupted = files.path("corrupted.safetensors")
        try Data(repeating: 0xAB, count: bytes.count / 2).write(to: URL(fileURLWithPath: corrupted + ".partial"))
        do {
            try client.downloadArtifact(ofJob: job.id, to: corrupted)
            Issue.record("a corrupted partial download must not pass")
        } catch ClientError.integrity(let message) {
            #expect(message.contains("sha256"))
        }
        #expect(!FileManager.default.fileExists(atPath: corrupted))
        #expect(!FileManager.default.fileExists(atPath: corrupted + ".partial"))
    }

    /// Deleting a model takes its finished jobs with it, and their artifacts from the disk too (not
    /// only at the next start's orphan sweep).
    @Test func deletingAModelRemovesItsJobsArtifacts() throws {
        let server = try LiveServer()
        let client = try server.client()
        let files = try Fixtures()
        let model = try client.uploadModel(path: try files.model(layers: 2))
        let job = try client.waitForJob(try client.submitJob(modelID: model.id, preset: "int8").id, initialInterval: 0.05)
        try #require(job.status == "succeeded")
        let folder = server.dataDirectory.appendingPathComponent("artifacts").appendingPathComponent(job.id).path
        #expect(FileManager.default.fileExists(atPath: folder))
        try client.deleteModel(model.id)
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(throws: ClientError.self) { try client.job(job.id) }
    }

    /// Eight clients on eight threads, each with the whole flow at once.
    @Test func concurrentClients() async throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let path = try files.model(layers: 3)
        let client = try server.client()
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for n in 0..<8 {
                group.addTask {
                    let model = try client.uploadModel(path: path, name: "client-\(n)")
                    let job = try client.submitJob(modelID: model.id, preset: n % 2 == 0 ? "int8" : "q4_0")
                    _ = try client.waitForJob(job.id, initialInterval: 0.05)
                    try client.downloadArtifact(ofJob: job.id, to: files.path("concurrent-\(n)"))
                    return job.id
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(outcomes).count == 8)
        #expect(try client.models().count == 8)
    }
}
