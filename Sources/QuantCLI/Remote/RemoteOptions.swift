import ArgumentParser
import Foundation
import QuantAPI
import QuantClient

/// Where the server is and which key to use, shared by every remote command.
///
/// The key is looked up in this order: `--api-key`, `$QUANT_API_KEY`, `--api-key-file`,
/// `$QUANT_API_KEY_FILE`, then `./data/admin.key` (where `make run` puts the admin key).
struct RemoteOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's base URL (default: $QUANT_SERVER, else http://127.0.0.1:8080).", valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("The API key (default: $QUANT_API_KEY, then the key file).", valueName: "key"))
    var apiKey: String?

    @Option(
        help: ArgumentHelp("A file holding the API key (default: $QUANT_API_KEY_FILE, else ./data/admin.key).", valueName: "path")
    )
    var apiKeyFile: String?

    static let defaultServer = "http://127.0.0.1:8080"
    static let defaultKeyFile = "data/admin.key"

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    var resolvedServer: String { server ?? environment["QUANT_SERVER"] ?? Self.defaultServer }

    func resolvedKey() throws -> String {
        if let apiKey { return apiKey }
        if let key = environment["QUANT_API_KEY"], !key.isEmpty { return key }
        let explicit = apiKeyFile ?? environment["QUANT_API_KEY_FILE"]
        let path = explicit ?? Self.defaultKeyFile
        if let data = FileManager.default.contents(atPath: path) {
            let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !key.isEmpty { return key }
        }
        throw CLIFailure(
            kind: .user,
            message: explicit.map { "cannot read an API key from \($0)" }
                ?? "no API key: pass --api-key KEY, set QUANT_API_KEY, or run from the directory where `make run` wrote data/admin.key"
        )
    }

    func client() throws -> QuantClient {
        QuantClient(server: resolvedServer, apiKey: try resolvedKey())
    }

    /// True when a server was named (flag or environment): `quantize` then runs remotely.
    var named: Bool { server != nil || environment["QUANT_SERVER"] != nil }
}

/// `--json` for remote commands.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON on stdout (for scripts) instead of text.")
    var json = false

    init() {}

    init(json: Bool) { self.json = json }

    /// Prints `value` as JSON (snake_case keys, like the API) when --json is set, else `text()`.
    func emit<T: Encodable>(_ value: T, text: () -> String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(value), as: UTF8.self))
        } else {
            print(text(), terminator: "")
        }
    }
}

/// A command that talks to the server and prints one result, as text or with --json.
protocol RemoteCommand: ParsableCommand {
    var remote: RemoteOptions { get }
    var output: OutputOptions { get }
}

extension RemoteCommand {
    /// Fetches one value with a client and prints it: the common shape of most remote commands.
    func show<T: Encodable>(_ fetch: (QuantClient) throws -> T, text: @escaping (T) -> String) throws {
        try reportingRemoteFailures {
            let value = try fetch(try remote.client())
            try output.emit(value) { text(value) }
        }
    }

    /// Deletes one object and says so: `{"deleted": id}` with --json, else "deleted ID".
    func delete(_ id: String, _ remove: (QuantClient) throws -> Void) throws {
        try show(
            { client -> [String: String] in
                try remove(client)
                return ["deleted": id]
            }, text: { _ in "deleted \(id)\n" })
    }
}

extension ParsableCommand {
    /// Runs a remote command: client errors become one "error: ..." line and the documented exit
    /// code (1 user, 2 server or job, 3 network).
    func reportingRemoteFailures(_ body: () throws -> Void) throws {
        try reportingFailures {
            do {
                try body()
            } catch let error as ClientError {
                throw CLIFailure(kind: error.exitKind, message: error.advice)
            }
        }
    }
}

extension ClientError {
    var exitKind: CLIFailure.Kind {
        switch self {
        case .network: .network
        case .usage, .file: .user
        case .problem(let p): (400..<500).contains(p.status) && p.status != 429 ? .user : .server
        case .invalidResponse, .integrity, .jobFailed: .server
        }
    }

    /// The error, plus what to do about the common ones.
    var advice: String {
        switch self {
        case .problem(let p) where p.status == 401:
            "\(description)\nhint: check the key (--api-key, $QUANT_API_KEY or data/admin.key)"
        case .network(let code, _) where code == 7:
            "\(description)\nhint: is quantd running? start it with `make run`, or pass --server URL"
        default: description
        }
    }
}
