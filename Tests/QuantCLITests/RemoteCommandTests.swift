import ArgumentParser
import Foundation
import QuantAPI
import QuantClient
import Testing

@testable import QuantCLI

/// The remote commands' help, argument checks, key lookup and exit codes (without a server; the
/// commands against a live quantd run in Tests/Interop/test_cli_remote.py).
@Suite("quantctl remote commands")
struct RemoteCommandTests {
    @Test func rootHelpListsRemoteCommandsAndKeyLookup() {
        let help = QuantCtl.helpMessage()
        #expect(help.contains("models") && help.contains("jobs"))
        #expect(help.contains("$QUANT_SERVER") && help.contains("$QUANT_API_KEY") && help.contains("./data/admin.key"))
        #expect(help.contains("3 network error"))
    }

    @Test func everySubcommandHasHelp() {
        let expected: [(any ParsableCommand.Type, String)] = [
            (ModelsCommand.Upload.self, "USAGE: quantctl models upload <file> [--name <name>]"),
            (ModelsCommand.List.self, "USAGE: quantctl models list"),
            (ModelsCommand.Show.self, "USAGE: quantctl models show <id>"),
            (ModelsCommand.Delete.self, "USAGE: quantctl models delete <id>"),
            (JobsCommand.Submit.self, "USAGE: quantctl jobs submit <model-id> [--preset <preset>] [--recipe <recipe>]"),
            (JobsCommand.Status.self, "USAGE: quantctl jobs status <id>"),
            (JobsCommand.Wait.self, "USAGE: quantctl jobs wait <id> [--timeout <timeout>]"),
            (JobsCommand.List.self, "USAGE: quantctl jobs list [--status <status>] [--model <model>]"),
            (JobsCommand.Report.self, "USAGE: quantctl jobs report <id>"),
            (JobsCommand.Cancel.self, "USAGE: quantctl jobs cancel <id>"),
            (JobsCommand.Download.self, "USAGE: quantctl jobs download <id> --output <output>"),
        ]
        for (command, usage) in expected {
            let help = QuantCtl.helpMessage(for: command)
            #expect(help.contains(usage), "\(command): \(help)")
            #expect(help.contains("--server <url>") && help.contains("--api-key <key>") && help.contains("--json"), "\(command)")
        }
        let quantize = QuantCtl.helpMessage(for: QuantizeCommand.self)
        #expect(quantize.contains("--server <url>") && quantize.contains("$QUANT_SERVER"))
    }

    @Test func submitNeedsExactlyOneRecipeSource() {
        #expect(throws: (any Error).self) { _ = try QuantCtl.parseAsRoot(["jobs", "submit", "mdl_x"]) }
        #expect(throws: (any Error).self) {
            _ = try QuantCtl.parseAsRoot(["jobs", "submit", "mdl_x", "--preset", "int8", "--recipe", "r.json"])
        }
        #expect(throws: (any Error).self) { _ = try QuantCtl.parseAsRoot(["jobs", "download", "job_x"]) }
        #expect((try? QuantCtl.parseAsRoot(["jobs", "submit", "mdl_x", "--preset", "int8"])) != nil)
    }

    @Test func keyLookupOrder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("key").path
        try Data("qs_fromfile\n".utf8).write(to: URL(fileURLWithPath: file))
        let flag = try RemoteOptions.parse(["--api-key", "qs_flag", "--api-key-file", file])
        #expect(try flag.resolvedKey() == "qs_flag")
        let fromFile = try RemoteOptions.parse(["--api-key-file", file])
        if ProcessInfo.processInfo.environment["QUANT_API_KEY"] == nil {
            #expect(try fromFile.resolvedKey() == "qs_fromfile")
        }
        let missing = try RemoteOptions.parse(["--api-key-file", directory.appendingPathComponent("nope").path])
        if ProcessInfo.processInfo.environment["QUANT_API_KEY"] == nil {
            #expect(throws: CLIFailure.self) { try missing.resolvedKey() }
        }
        #expect(try RemoteOptions.parse(["--server", "http://h:1"]).resolvedServer == "http://h:1")
    }

    @Test func exitCodes() {
        func kind(_ error: ClientError) -> CLIFailure.Kind { error.exitKind }
        let problem = { (status: Int) in
            ClientError.problem(Problem(type: "t", title: "x", status: status, detail: "d", field: nil))
        }
        #expect(kind(problem(404)) == .user && kind(problem(422)) == .user && kind(problem(401)) == .user)
        #expect(kind(problem(500)) == .server && kind(problem(503)) == .server && kind(problem(429)) == .server)
        #expect(kind(.network(code: 7, message: "")) == .network)
        #expect(kind(.jobFailed(id: "j", status: "failed", code: nil, message: nil)) == .server)
        #expect(kind(.integrity("x")) == .server && kind(.usage("x")) == .user && kind(.file("x")) == .user)
        #expect(ClientError.network(code: 7, message: "refused").advice.contains("make run"))
    }
}
