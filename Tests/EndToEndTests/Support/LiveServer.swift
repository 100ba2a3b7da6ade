import Foundation
import QuantAPI
import QuantClient

struct E2EError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real `quantd` process on 127.0.0.1 with its own temporary data directory; it can be killed and
/// started again on the same directory and port.
final class LiveServer: @unchecked Sendable {
    let dataDirectory: URL
    private(set) var port = 0
    private(set) var process: Process?
    let environment: [String: String]
    let workers: Int

    /// The built `quantd` next to this test bundle (`swift build` builds it with the tests).
    static func binary(_ name: String = "quantd") throws -> String {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let path = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw E2EError("\(name) is not built at \(path); run swift build first")
        }
        return path
    }

    init(workers: Int = 2, environment: [String: String] = [:]) throws {
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        self.environment = environment
        self.workers = workers
        try start()
    }

    deinit {
        stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: dataDirectory)
    }

    var url: String { "http://127.0.0.1:\(port)" }

    var adminKey: String {
        get throws {
            let text = try String(contentsOf: dataDirectory.appendingPathComponent("admin.key"), encoding: .utf8)
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// A client with the admin key and quick retries (tests should not wait for long backoffs).
    func client(key: String? = nil, maxAttempts: Int = 4) throws -> QuantClient {
        var options = ClientOptions()
        options.retry = RetryPolicy(maxAttempts: maxAttempts, baseDelay: 0.1, maxDelay: 1)
        return QuantClient(server: url, apiKey: try key ?? adminKey, options: options)
    }

    /// Starts quantd (on the same port as before after a stop) and waits for its ready line.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = [
            "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDirectory.path, "--workers", String(workers),
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        // The one stdout line: "quantd listening on http://HOST:PORT".
        var line = Data()
        let deadline = Date().addingTimeInterval(30)
        while !line.contains(UInt8(ascii: "\n")) {
            guard Date() < deadline, process.isRunning else {
                throw E2EError(
                    "quantd did not report ready (exit \(process.isRunning ? "none" : String(process.terminationStatus)))")
            }
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { Thread.sleep(forTimeInterval: 0.01) } else { line.append(chunk) }
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("quantd listening on http://"), let bound = text.split(separator: ":").last.flatMap({ Int($0) })
        else {
            throw E2EError("unexpected ready line: \(text)")
        }
        port = bound
    }

    /// Stops quantd with `signal` (SIGTERM: graceful; SIGKILL: a crash) and waits for it.
    func stop(signal: Int32 = SIGTERM) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        self.process = nil
    }

    /// `quantd keys create --tenant NAME` on this data directory: a key of another tenant.
    func createKey(tenant: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = ["keys", "create", "--tenant", tenant, "--data-dir", dataDirectory.path]
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw E2EError("keys create exited \(process.terminationStatus)") }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
