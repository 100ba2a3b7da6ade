import GRDB

/// Schema migrations. Ids are strings; a migration that has shipped is never edited: changes come
/// as new migrations. Table names are literals, not derived from the record types.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("2026-11-26-initial") { db in
            try db.execute(
                sql: """
                    CREATE TABLE tenants (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL UNIQUE,
                        created_at DATETIME NOT NULL,
                        max_queued_jobs INTEGER NOT NULL,
                        max_storage_bytes INTEGER NOT NULL,
                        last_claimed_at DOUBLE NOT NULL DEFAULT 0
                    );
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                        prefix TEXT NOT NULL,
                        key_hash BLOB NOT NULL UNIQUE,
                        is_admin BOOLEAN NOT NULL DEFAULT 0,
                        created_at DATETIME NOT NULL,
                        revoked_at DATETIME
                    );
                    CREATE INDEX api_keys_prefix ON api_keys(prefix);
                    CREATE TABLE models (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        format TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        tensor_count INTEGER NOT NULL,
                        parameter_count INTEGER NOT NULL,
                        blob_path TEXT NOT NULL,
                        created_at DATETIME NOT NULL
                    );
                    CREATE INDEX models_tenant ON models(tenant_id, created_at);
                    CREATE INDEX models_sha256 ON models(sha256);
                    CREATE TABLE jobs (
                        \(initialJobsColumns)
                    );
                    \(initialJobsIndexes)
                    CREATE TABLE job_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                        at DOUBLE NOT NULL,
                        from_state TEXT,
                        to_state TEXT NOT NULL,
                        attempt INTEGER NOT NULL,
                        reason TEXT
                    );
                    CREATE INDEX job_events_job ON job_events(job_id, id);
                    CREATE TABLE tensor_metrics (
                        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        name TEXT NOT NULL,
                        sqnr_db DOUBLE,
                        bits_per_weight DOUBLE,
                        report TEXT NOT NULL,
                        PRIMARY KEY (job_id, position)
                    );
                    """)
        }
        // Calibration datasets (activation samples); a job names at most one. Finished jobs outlive
        // their dataset, so the reference is cleared rather than blocking the delete.
        migrator.registerMigration("2026-11-27-datasets") { db in
            try db.execute(
                sql: """
                    CREATE TABLE datasets (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        tensor_count INTEGER NOT NULL,
                        blob_path TEXT NOT NULL,
                        created_at DATETIME NOT NULL
                    );
                    CREATE INDEX datasets_tenant ON datasets(tenant_id, created_at);
                    ALTER TABLE jobs ADD COLUMN dataset_id TEXT REFERENCES datasets(id) ON DELETE SET NULL;
                    CREATE INDEX jobs_dataset ON jobs(dataset_id, state);
                    """)
        }
        // Quantization-aware training jobs: the job's kind, its training request, and one row of
        // metrics per epoch.
        migrator.registerMigration("2026-11-27-qat") { db in
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'quantize' CHECK (kind IN ('quantize', 'qat'));
                    ALTER TABLE jobs ADD COLUMN training TEXT;
                    CREATE TABLE job_epochs (
                        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                        epoch INTEGER NOT NULL,
                        train_loss DOUBLE NOT NULL,
                        validation_loss DOUBLE NOT NULL,
                        validation_accuracy DOUBLE,
                        seconds DOUBLE NOT NULL,
                        PRIMARY KEY (job_id, epoch)
                    );
                    """)
        }
        // Jobs of kind 'evaluate' (a CHECK constraint changes only by rebuilding the table; GRDB turns
        // foreign keys off for the copy and checks them all before committing), and the stage the
        // progress counts: quantizing (bytes), evaluating (layer passes and chunks) or training (epochs).
        migrator.registerMigration("2026-12-06-evaluate-jobs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs_rebuilt (
                        \(initialJobsColumns),
                        dataset_id TEXT REFERENCES datasets(id) ON DELETE SET NULL,
                        kind TEXT NOT NULL DEFAULT 'quantize' CHECK (kind IN ('quantize', 'qat', 'evaluate')),
                        training TEXT,
                        progress_stage TEXT
                    );
                    INSERT INTO jobs_rebuilt SELECT *, NULL FROM jobs;
                    DROP TABLE jobs;
                    ALTER TABLE jobs_rebuilt RENAME TO jobs;
                    \(initialJobsIndexes)
                    CREATE INDEX jobs_dataset ON jobs(dataset_id, state);
                    """)
        }
        return migrator
    }

    /// The jobs table's columns and indexes as the initial migration created them. The rebuild that
    /// widened a CHECK list restates them, so both migrations read them from here; like the
    /// migrations, these never change.
    private static let initialJobsColumns = """
        id TEXT PRIMARY KEY NOT NULL,
        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        model_id TEXT NOT NULL REFERENCES models(id),
        name TEXT,
        recipe TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        attempt INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        lease_owner TEXT,
        lease_expires_at DOUBLE,
        not_before DOUBLE NOT NULL,
        progress_done INTEGER,
        progress_total INTEGER,
        cancel_requested BOOLEAN NOT NULL DEFAULT 0,
        error_code TEXT,
        error_message TEXT,
        created_at DOUBLE NOT NULL,
        started_at DOUBLE,
        finished_at DOUBLE,
        updated_at DOUBLE NOT NULL,
        idempotency_key TEXT,
        request_hash TEXT,
        artifact_path TEXT,
        artifact_size INTEGER,
        artifact_sha256 TEXT,
        summary TEXT,
        expires_at DOUBLE
        """
    private static let initialJobsIndexes = """
        CREATE UNIQUE INDEX jobs_idempotency ON jobs(tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_queue ON jobs(state, not_before);
        CREATE INDEX jobs_tenant ON jobs(tenant_id, created_at);
        CREATE INDEX jobs_model ON jobs(model_id, state);
        """
}
