import Foundation

/// The database of QuantService, behind one API whichever engine holds it: SQLite (the embedded
/// default, one node) or PostgreSQL (a queue shared by several replicas). Every SQL statement of the
/// service lives in this module.
public final class Store: Sendable {
    let backend: any StoreBackend

    /// The embedded store: one SQLite file.
    public init(path: String, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws {
        backend = try SQLiteStore(path: path, clock: clock)
    }

    /// A shared store on PostgreSQL (`postgres://user@host:port/database`); migrates it first.
    public init(postgresURL: String, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws {
        backend = try PostgresStore(url: postgresURL, clock: clock)
    }

    /// `--database`: a postgres:// or postgresql:// URL, or nil for the SQLite file at `sqlitePath`.
    public static func open(database: String?, sqlitePath: String) throws -> Store {
        guard let database, !database.isEmpty else { return try Store(path: sqlitePath) }
        guard database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") else {
            throw StoreError.invalid(
                "--database must be a postgres:// URL (or absent for the SQLite file in the data directory); got '\(database)'")
        }
        return try Store(postgresURL: database)
    }

    /// Creates an empty database `name` (letters, digits, `_`) on the PostgreSQL server that
    /// `serverURL` reaches: for tests and benchmarks, which each want a database of their own.
    public static func createPostgresDatabase(_ name: String, serverURL: String) throws {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw StoreError.invalid("a database name is letters, digits and _; got '\(name)'")
        }
        try PGConnection(url: serverURL).script("CREATE DATABASE \(name)")
    }

    /// True when several replicas share this database (PostgreSQL).
    public var isShared: Bool { backend.isShared }

    /// True when the database answers a query (for /readyz).
    public func isHealthy() -> Bool { backend.isHealthy() }

    /// A consistent copy of the whole database taken while the service keeps running: an SQLite file,
    /// or for PostgreSQL a `pg_dump` archive. `path` must not exist.
    public func backup(to path: String) throws { try backend.backup(to: path) }

    /// The scope of one tenant: the only way to reach its models and jobs.
    public func scope(_ tenantID: String) -> TenantScope { TenantScope(store: self, tenantID: tenantID) }

    static func newID(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdefghijklmnopqrstuv")
        return prefix + "_" + String((0..<20).map { _ in alphabet[Int(generator.next() % 32)] })
    }

    /// Checks a transition against the state machine.
    static func check(_ job: JobRecord, to next: JobState) throws {
        guard job.state.canTransition(to: next) else {
            throw StoreError.illegalTransition(job: job.id, from: job.state, to: next)
        }
    }
}
