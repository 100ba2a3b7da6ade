import Foundation
import QuantStore

/// A real PostgreSQL server for tests: the one `QS_POSTGRES_URL` names, or else a throw-away server
/// that `scripts/postgres.sh` starts on a free port at first use and stops after the process exits.
public enum TestPostgres {
    /// The server's URL without a database name, e.g. `postgres://quantd@127.0.0.1:5433`; or why
    /// there is none.
    public static let server: Result<String, TestPostgresError> = start()

    /// The URL of database `name` on the test server.
    public static func url(database name: String) throws -> String {
        try server.get() + "/" + name
    }

    /// A new, empty database on the test server; its URL.
    public static func freshDatabase() throws -> String {
        let name = "qs_" + UUID().uuidString.prefix(13).lowercased().replacingOccurrences(of: "-", with: "")
        try Store.createPostgresDatabase(name, serverURL: url(database: "postgres"))
        return try url(database: name)
    }

    private static func start() -> Result<String, TestPostgresError> {
        if let url = ProcessInfo.processInfo.environment["QS_POSTGRES_URL"], !url.isEmpty {
            return .success(withoutDatabase(url))
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-pg-\(UUID().uuidString.prefix(8))").path
        let printed: String
        // The script's watcher stops the server once this process is gone, however it ends.
        do { printed = try runScript(["start", directory, String(getpid())]) } catch { return .failure(error) }
        // The URL is the last line; anything above it is the tools' chatter.
        guard let url = printed.split(separator: "\n").last(where: { $0.hasPrefix("postgres://") }) else {
            return .failure(TestPostgresError(message: "scripts/postgres.sh start printed no URL: \(printed)"))
        }
        return .success(withoutDatabase(String(url)))
    }

    /// Runs scripts/postgres.sh and returns what it printed. posix_spawn and waitpid rather than
    /// Foundation's Process, whose waitUntilExit can miss the child's exit in a test process.
    static func runScript(_ arguments: [String]) throws(TestPostgresError) -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../scripts/postgres.sh"
        ).standardized.path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("qs-pg-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let command = "bash '\(script)' " + arguments.map { "'\($0)'" }.joined(separator: " ") + " >'\(output)' 2>&1"
        let argv: [UnsafeMutablePointer<CChar>?] = [String](["/bin/sh", "-c", command]).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else {
            throw TestPostgresError(message: "cannot run \(script)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestPostgresError(message: "scripts/postgres.sh \(arguments[0]) failed: \(printed)") }
        return printed
    }

    /// `postgres://user@host:port/db?x` -> `postgres://user@host:port`.
    static func withoutDatabase(_ url: String) -> String {
        let scheme = url.range(of: "://").map { url[..<$0.upperBound] } ?? ""
        let rest = url.dropFirst(scheme.count)
        return String(scheme) + String(rest.split(separator: "/", maxSplits: 1).first ?? "")
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
