import Foundation
import GRDB
import Testing

@testable import QuantStore

/// Migrations that rebuild a table keep every row, and the rows that reference it.
@Suite("Store: migrations")
struct MigrationTests {
    @Test func theEvaluateJobsRebuildKeepsJobsEventsAndMetrics() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("quant.db").path
        do {
            var configuration = Configuration()
            configuration.foreignKeysEnabled = true
            let old = try DatabaseQueue(path: path, configuration: configuration)
            try Migrations.migrator.migrate(old, upTo: "2026-11-27-qat")
            try old.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO tenants (id, name, created_at, max_queued_jobs, max_storage_bytes) VALUES ('t', 't', 0, 10, 1000);
                        INSERT INTO models (id, tenant_id, name, format, size, sha256, tensor_count, parameter_count, blob_path, created_at)
                            VALUES ('m', 't', 'm', 'gguf', 1, 'ab', 1, 1, '/x', 0);
                        INSERT INTO jobs (id, tenant_id, model_id, recipe, state, max_attempts, not_before, created_at, updated_at, summary, kind, training)
                            VALUES ('j', 't', 'm', '{}', 'succeeded', 3, 0, 1, 2, '{"a":1}', 'qat', '{"epochs":2}');
                        INSERT INTO job_events (job_id, at, to_state, attempt) VALUES ('j', 1, 'queued', 0);
                        INSERT INTO tensor_metrics (job_id, position, name, report) VALUES ('j', 0, 'w', '{}');
                        """)
            }
        }
        let store = try Store(path: path)
        try store.sqlitePool.read { db in
            let job = try #require(try JobRecord.fetchOne(db, key: "j"))
            #expect(
                job.kind == "qat" && job.training == "{\"epochs\":2}" && job.summary == "{\"a\":1}" && job.progressStage == nil)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM job_events WHERE job_id = 'j'") == 1)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM tensor_metrics WHERE job_id = 'j'") == 1)
            let indexes = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND name LIKE 'jobs_%'")
            #expect(Set(indexes) == ["jobs_idempotency", "jobs_queue", "jobs_tenant", "jobs_model", "jobs_dataset"])
        }
        try store.sqlitePool.write { db in
            try db.execute(sql: "UPDATE jobs SET kind = 'evaluate' WHERE id = 'j'")
            #expect(throws: (any Error).self) { try db.execute(sql: "UPDATE jobs SET kind = 'other' WHERE id = 'j'") }
            // The references still cascade from the rebuilt table.
            try db.execute(sql: "DELETE FROM jobs WHERE id = 'j'")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM job_events") == 0)
        }
    }
}
