/// The PostgreSQL schema, versioned like the SQLite one: ids are strings, a migration that has
/// shipped is never edited, and each runs once, in its own transaction. Replicas that start together
/// take an advisory lock first, so exactly one of them migrates and the others wait and find
/// nothing left to do.
///
/// The columns are those of the SQLite schema at the time PostgreSQL support arrived; times are
/// seconds since 1970 in float8 everywhere (SQLite's DATETIME columns included).
enum PGMigrations {
    static let all: [(id: String, sql: String)] = [
        (
            "2026-12-06-initial",
            """
            CREATE TABLE tenants (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at DOUBLE PRECISION NOT NULL,
                max_queued_jobs BIGINT NOT NULL,
                max_storage_bytes BIGINT NOT NULL,
                last_claimed_at DOUBLE PRECISION NOT NULL DEFAULT 0
            );
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                prefix TEXT NOT NULL,
                key_hash BYTEA NOT NULL UNIQUE,
                is_admin BOOLEAN NOT NULL DEFAULT false,
                created_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION
            );
            CREATE INDEX api_keys_prefix ON api_keys(prefix);
            CREATE TABLE models (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                format TEXT NOT NULL,
                size BIGINT NOT NULL,
                sha256 TEXT NOT NULL,
                tensor_count BIGINT NOT NULL,
                parameter_count BIGINT NOT NULL,
                blob_path TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX models_tenant ON models(tenant_id, created_at);
            CREATE INDEX models_blob ON models(blob_path);
            CREATE TABLE datasets (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                size BIGINT NOT NULL,
                sha256 TEXT NOT NULL,
                tensor_count BIGINT NOT NULL,
                blob_path TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX datasets_tenant ON datasets(tenant_id, created_at);
            CREATE INDEX datasets_blob ON datasets(blob_path);
            CREATE TABLE jobs (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                model_id TEXT NOT NULL REFERENCES models(id),
                name TEXT,
                recipe TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                attempt BIGINT NOT NULL DEFAULT 0,
                max_attempts BIGINT NOT NULL,
                lease_owner TEXT,
                lease_expires_at DOUBLE PRECISION,
                not_before DOUBLE PRECISION NOT NULL,
                progress_done BIGINT,
                progress_total BIGINT,
                cancel_requested BOOLEAN NOT NULL DEFAULT false,
                error_code TEXT,
                error_message TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                started_at DOUBLE PRECISION,
                finished_at DOUBLE PRECISION,
                updated_at DOUBLE PRECISION NOT NULL,
                idempotency_key TEXT,
                request_hash TEXT,
                artifact_path TEXT,
                artifact_size BIGINT,
                artifact_sha256 TEXT,
                summary TEXT,
                expires_at DOUBLE PRECISION,
                dataset_id TEXT REFERENCES datasets(id) ON DELETE SET NULL,
                kind TEXT NOT NULL DEFAULT 'quantize' CHECK (kind IN ('quantize', 'qat', 'evaluate')),
                training TEXT,
                progress_stage TEXT
            );
            CREATE UNIQUE INDEX jobs_idempotency ON jobs(tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
            CREATE INDEX jobs_queue ON jobs(state, not_before);
            CREATE INDEX jobs_tenant ON jobs(tenant_id, created_at);
            CREATE INDEX jobs_model ON jobs(model_id, state);
            CREATE INDEX jobs_dataset ON jobs(dataset_id, state);
            CREATE INDEX jobs_lease ON jobs(state, lease_expires_at);
            CREATE INDEX jobs_artifact ON jobs(artifact_path) WHERE artifact_path IS NOT NULL;
            CREATE TABLE job_events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                at DOUBLE PRECISION NOT NULL,
                from_state TEXT,
                to_state TEXT NOT NULL,
                attempt BIGINT NOT NULL,
                reason TEXT
            );
            CREATE INDEX job_events_job ON job_events(job_id, id);
            CREATE TABLE tensor_metrics (
                job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                position BIGINT NOT NULL,
                name TEXT NOT NULL,
                sqnr_db DOUBLE PRECISION,
                bits_per_weight DOUBLE PRECISION,
                report TEXT NOT NULL,
                PRIMARY KEY (job_id, position)
            );
            CREATE TABLE job_epochs (
                job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                epoch BIGINT NOT NULL,
                train_loss DOUBLE PRECISION NOT NULL,
                validation_loss DOUBLE PRECISION NOT NULL,
                validation_accuracy DOUBLE PRECISION,
                seconds DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (job_id, epoch)
            );
            """
        )
    ]

    /// A key of the advisory lock that serializes migrations across replicas (any fixed number).
    static let lockKey: Int64 = 0x7175_616e_7464

    /// Applies the migrations this database lacks; returns their ids.
    @discardableResult
    static func migrate(_ connection: PGConnection, now: Double) throws -> [String] {
        try connection.query("SELECT pg_advisory_lock($1::bigint)", [.int(lockKey)])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [.int(lockKey)]) }
        try connection.script(
            "CREATE TABLE IF NOT EXISTS quantd_migrations (id TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
        let applied = Set(try connection.query("SELECT id FROM quantd_migrations").all.compactMap { $0["id"] })
        var ran: [String] = []
        for migration in all where !applied.contains(migration.id) {
            try connection.transaction { connection in
                try connection.script(migration.sql)
                try connection.query(
                    "INSERT INTO quantd_migrations (id, applied_at) VALUES ($1, $2)", [.text(migration.id), .double(now)])
            }
            ran.append(migration.id)
        }
        return ran
    }
}
