import ArgumentParser
import Foundation
import QuantAPI
import QuantClient

/// `quantctl health`: exit 0 when the server answers `GET /healthz` (no key needed). The container
/// image uses it as its HEALTHCHECK, so the image needs no curl.
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Check that a server is up (GET /healthz); exit 0 if it is, 3 if not.")

    @Option(help: ArgumentHelp("The server's base URL (default: $QUANT_SERVER, else http://127.0.0.1:8080).", valueName: "url"))
    var server: String?

    func run() throws {
        let url = server ?? ProcessInfo.processInfo.environment["QUANT_SERVER"] ?? RemoteOptions.defaultServer
        var options = ClientOptions()
        options.connectTimeout = 3
        options.requestTimeout = 5
        guard QuantClient(server: url, apiKey: nil, options: options).isHealthy() else {
            printError("\(url)/healthz did not answer 200")
            throw ExitCode(CLIFailure.Kind.network.rawValue)
        }
        print("ok")
    }
}
