import CSQLiteConfig
import Foundation
import GRDB

/// Applied once, before this process's first SQLite connection (a Swift global is initialized once,
/// on first use). SQLite's result: SQLITE_OK, or SQLITE_MISUSE when something else had already
/// opened a database (the setting then stays SQLite's default).
let sqliteProcessSettings: Int32 = csqlite_disable_memory_statistics()

/// The embedded engine: one SQLite file in WAL mode, for one node. Each write method is one
/// transaction, named for what it does.
final class SQLiteStore: StoreBackend {
    /// Writes go through GRDB's `write`, whose transaction on a writable connection begins
    /// IMMEDIATE: the write lock is taken before the first read, so two workers never both read a
    /// queued job and then both claim it.
    let pool: DatabasePool
    /// Seconds since 1970; injectable so tests can move time.
    let clock: @Sendable () -> Double
    /// The polling hot path (key lookup, job row) on raw read-only connections.
    let hot: HotReads

    init(path: String, clock: @escaping @Sendable () -> Double) throws {
        _ = sqliteProcessSettings
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // Job state is the service's promise: every commit reaches the disk.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        self.clock = clock
        try Migrations.migrator.migrate(pool)
        hot = HotReads(path: path)
    }

    func now() -> Double { clock() }

    /// One process owns the file.
    var isShared: Bool { false }

    func isHealthy() -> Bool {
        (try? pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    /// A consistent copy taken with SQLite's online backup API while the service keeps running.
    func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError.invalid("\(path) already exists; back up to a new file")
        }
        let destination = try DatabaseQueue(path: path)
        try pool.backup(to: destination)
        try destination.close()
    }

    /// Every submit in this process wakes its own workers directly; there is no other process.
    func onJobQueued(_ handler: @escaping @Sendable () -> Void) {}

    func tenant(_ tenantID: String) -> any TenantBackend { SQLiteTenantScope(store: self, tenantID: tenantID) }

    /// Appends a state change event (inside the caller's transaction).
    static func event(_ db: Database, job: String, from: JobState?, to: JobState, attempt: Int, reason: String?, at: Double)
        throws
    {
        try JobEvent(id: nil, jobId: job, at: at, fromState: from, toState: to, attempt: attempt, reason: reason).insert(db)
    }
}
