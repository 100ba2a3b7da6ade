import ArgumentParser
import Foundation
import QuantService
import QuantStore

/// `quantd`: the QuantService daemon. `quantd` alone serves the API; `quantd worker` runs workers
/// without HTTP; `quantd keys` manages API keys on the same data directory.
public struct Quantd: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "quantd",
        abstract: "The QuantService daemon: the HTTP API and the job workers.",
        subcommands: [ServeCommand.self, WorkerCommand.self, KeysCommand.self, BackupCommand.self, MigrateCommand.self],
        defaultSubcommand: ServeCommand.self
    )

    public init() {}
}

func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } }

/// Options every subcommand shares.
struct DataOptions: ParsableArguments {
    @Option(help: "The data directory (QUANTD_DATA_DIR); replicas sharing a PostgreSQL database share it too.")
    var dataDir = environment("QUANTD_DATA_DIR") ?? "./data"

    @Option(
        help: "A postgres:// URL to share the queue with other replicas (QUANTD_DATABASE); default: SQLite in the data directory."
    )
    var database = environment("QUANTD_DATABASE")

    var directory: DataDirectory { DataDirectory(root: dataDir) }

    func openStore() throws -> Store { try directory.openStore(database: database) }
}

/// `quantd migrate`: brings the database's schema up to date and exits (every start does this too;
/// run it first when replicas of a new version roll out, so none of them waits on the lock).
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the database migrations this version needs, then exit.")

    @OptionGroup var data: DataOptions

    func run() throws {
        _ = try data.openStore()
        print("database schema is up to date (\(data.database == nil ? "SQLite in \(data.dataDir)" : "PostgreSQL"))")
    }
}

/// `quantd worker`: run job workers on a data directory (no HTTP).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run job workers on the data directory until stopped (SIGTERM/SIGINT), or until idle."
    )

    @OptionGroup var data: DataOptions

    @Option(help: "Worker count (QUANTD_WORKERS; default: the number of cores).")
    var workers = Int(environment("QUANTD_WORKERS") ?? "") ?? ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Lease length in seconds; a worker that stops renewing loses its job after this.")
    var leaseSeconds: Double = 30

    @Flag(help: "Exit once no job is queued or running.")
    var exitWhenIdle = false

    func run() throws {
        let directory = data.directory
        let store = try data.openStore()
        var settings = WorkerSettings()
        settings.leaseSeconds = leaseSeconds
        let pool = WorkerPool(store: store, data: directory, workers: workers, settings: settings)
        try pool.start()
        FileHandle.standardError.write(Data("quantd worker: \(workers) workers on \(data.dataDir)\n".utf8))
        if exitWhenIdle {
            _ = pool.drain(timeout: 24 * 3600)
            return
        }
        waitForTermination()
        pool.stop(deadline: 30)
    }
}

/// Blocks until SIGTERM or SIGINT.
func waitForTermination() {
    let stop = DispatchSemaphore(value: 0)
    var sources: [DispatchSourceSignal] = []
    for signalNumber in [SIGTERM, SIGINT] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { stop.signal() }
        source.resume()
        sources.append(source)
    }
    stop.wait()
    withExtendedLifetime(sources) {}
}
