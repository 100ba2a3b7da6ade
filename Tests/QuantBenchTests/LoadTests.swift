import Foundation
import QuantBench
import QuantTesting
import Testing

@Suite("Queue under load", .serialized)
struct LoadTests {
    /// 8 threads submit and poll 2,000 jobs while 2 workers run them: no SQLITE_BUSY escapes, no job
    /// is lost or duplicated. (Throughput and claim latency are reported by `quant-bench queue`.)
    @Test func twoThousandJobs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-load-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try QueueLoad(directory: directory.path).run()
        #expect(result.submitErrors.isEmpty, "\(result.submitErrors.prefix(3))")
        #expect(result.jobs == 2000 && result.distinct == 2000)
        #expect(result.succeeded == 2000)
        #expect(result.maxAttempt == 1)
        #expect(result.pollsPerSecond > 0)
    }

    /// The same load on PostgreSQL through three replicas (each with its own connections, LISTEN
    /// and workers): every job runs once, on its first attempt.
    @Test func threeReplicasOnPostgres() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-load-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var load = QueueLoad(directory: directory.path)
        load.jobs = 600
        load.database = try TestPostgres.freshDatabase()
        load.replicas = 3
        load.pollSeconds = 0.2
        let result = try load.run()
        #expect(result.submitErrors.isEmpty, "\(result.submitErrors.prefix(3))")
        #expect(result.jobs == 600 && result.distinct == 600)
        #expect(result.succeeded == 600)
        #expect(result.maxAttempt == 1)
        #expect(result.pollsPerSecond > 0)
    }
}
