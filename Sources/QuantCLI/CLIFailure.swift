import ArgumentParser
import Foundation

/// A failure the CLI reports as one line on stderr, followed by the documented exit code.
struct CLIFailure: Error {
    /// Documented exit codes (see `quantctl --help`).
    enum Kind: Int32 {
        case user = 1
        case server = 2
        case network = 3
    }

    let kind: Kind
    let message: String
}

extension ParsableCommand {
    /// Runs `body`, turning thrown errors into one "error: ..." line and the right exit code, so no
    /// failure ever surfaces as a crash or a stack trace.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CLIFailure {
            printError(failure.message)
            throw ExitCode(failure.kind.rawValue)
        } catch let error as ExitCode {
            throw error
        } catch {
            printError(String(describing: error))
            throw ExitCode(CLIFailure.Kind.user.rawValue)
        }
    }
}

func printError(_ message: String) {
    var line = "error: " + message
    if !line.hasSuffix("\n") { line += "\n" }
    FileHandle.standardError.write(Data(line.utf8))
}
