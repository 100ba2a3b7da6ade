import Foundation
import Synchronization

/// The shared engine: one PostgreSQL database for N quantd replicas. Claims lock with `FOR UPDATE
/// SKIP LOCKED`, every worker write names its attempt and checks its lease (fencing), submits
/// `NOTIFY` the idle workers of every replica, and request threads share a connection pool.
final class PostgresStore: StoreBackend {
    let pool: PGPool
    let clock: @Sendable () -> Double
    /// The channel a submit notifies and idle workers listen on.
    static let queuedChannel = "quantd_jobs_queued"
    private let listener = Mutex<PGListener?>(nil)

    init(url: String, clock: @escaping @Sendable () -> Double) throws {
        pool = PGPool(url: Self.withConnectionDefaults(url))
        self.clock = clock
        try pool.with { connection in _ = try PGMigrations.migrate(connection, now: clock()) }
    }

    deinit { listener.withLock { $0?.stop() } }

    /// Timeouts that turn a dead server or a cut network into an error within seconds instead of
    /// TCP's minutes: connecting, unacknowledged writes, and keepalives on idle connections. A URL
    /// that sets any of them keeps its own value.
    static func withConnectionDefaults(_ url: String) -> String {
        let defaults = [
            "connect_timeout": "5", "tcp_user_timeout": "10000", "keepalives_idle": "10", "keepalives_interval": "3",
            "keepalives_count": "3",
            "application_name": "quantd",
        ]
        var result = url
        for (name, value) in defaults.sorted(by: { $0.key < $1.key }) where !url.contains(name + "=") {
            result += (result.contains("?") ? "&" : "?") + "\(name)=\(value)"
        }
        return result
    }

    var isShared: Bool { true }

    func now() -> Double { clock() }

    func isHealthy() -> Bool {
        (try? pool.read { try $0.query("SELECT 1 AS ok").first?["ok"] }) == "1"
    }

    /// `pg_dump --format=custom`: a consistent snapshot while the replicas keep running; restore with
    /// `pg_restore`.
    func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError.invalid("\(path) already exists; back up to a new file")
        }
        guard let dump = Self.pgDump() else {
            throw StoreError.invalid("pg_dump not found: install the PostgreSQL client (Debian: postgresql-client)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dump)
        process.arguments = ["--format=custom", "--file=\(path)", "--dbname=\(pool.url)"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw StoreError.invalid("pg_dump failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// The newest pg_dump: Debian installs one per server version, and only a wrapper on the PATH.
    static func pgDump() -> String? {
        let versioned = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { Int($0) }.sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin/pg_dump" }
        return (versioned + ["/usr/bin/pg_dump"]).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func onJobQueued(_ handler: @escaping @Sendable () -> Void) {
        listener.withLock { current in
            current?.stop()
            current = PGListener(url: pool.url, channel: Self.queuedChannel, handler: handler)
        }
    }

    func tenant(_ tenantID: String) -> any TenantBackend { PostgresTenantScope(store: self, tenantID: tenantID) }

    /// Appends a state change event (inside the caller's transaction).
    static func event(
        _ connection: PGConnection, job: String, from: JobState?, to: JobState, attempt: Int, reason: String?, at: Double
    ) throws {
        try connection.query(
            "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, reason) VALUES ($1, $2, $3, $4, $5, $6)",
            [.text(job), .double(at), PGValue(from?.rawValue), .text(to.rawValue), PGValue(attempt), PGValue(reason)])
    }

    /// Tells idle workers of every replica that a job is queued (delivered when the transaction commits).
    static func notifyQueued(_ connection: PGConnection) throws {
        try connection.query("SELECT pg_notify($1, '')", [.text(queuedChannel)])
    }

    /// Writes every column of a job row (the record is the whole truth of the row).
    static func update(_ connection: PGConnection, _ job: JobRecord) throws {
        let columns = try PGRecordCoding.columns(of: job).filter { $0.name != "id" }
        let assignments = columns.enumerated().map { "\($0.element.name) = $\($0.offset + 2)" }.joined(separator: ", ")
        try connection.query("UPDATE jobs SET \(assignments) WHERE id = $1", [.text(job.id)] + columns.map(\.value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ rows: PGRows) throws -> [T] {
        try rows.all.map { try PGRecordCoding.decode(T.self, from: $0) }
    }

    static func decodeFirst<T: Decodable>(_ type: T.Type, _ rows: PGRows) throws -> T? {
        try rows.first.map { try PGRecordCoding.decode(T.self, from: $0) }
    }
}

/// A thread that holds one connection in LISTEN and calls `handler` on every notification. It
/// reconnects with backoff (1 s doubling to 30 s) when the connection breaks, and calls the handler
/// once after reconnecting, since notifications sent meanwhile were lost.
final class PGListener: Sendable {
    private let stopped = Atomic<Bool>(false)

    init(url: String, channel: String, handler: @escaping @Sendable () -> Void) {
        // The thread holds the listener until it sees `stop`.
        let thread = Thread { [self] in
            var backoff = 1.0
            while !stopped.load(ordering: .relaxed) {
                do {
                    let connection = try PGConnection(url: url)
                    try connection.script("LISTEN \(channel)")
                    backoff = 1
                    handler()
                    while !stopped.load(ordering: .relaxed) {
                        if !(try connection.waitForNotifications(timeout: 1)).isEmpty { handler() }
                    }
                } catch {
                    Thread.sleep(forTimeInterval: backoff)
                    backoff = min(backoff * 2, 30)
                }
            }
        }
        thread.name = "quantd.listen.\(channel)"
        thread.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
}
