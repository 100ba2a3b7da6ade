import ArgumentParser
import Foundation
import QuantService
import QuantStore

/// `quantd`: the QuantService daemon. (The HTTP server arrives with issue "HTTP server"; today it
/// runs the job workers on a data directory.)
public struct Quantd: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "quantd",
        abstract: "The QuantService daemon.",
        subcommands: [WorkerCommand.self]
    )

    public init() {}
}

/// Options every subcommand shares.
struct DataOptions: ParsableArguments {
    @Option(help: "The data directory (QUANTD_DATA_DIR).")
    var dataDir = ProcessInfo.processInfo.environment["QUANTD_DATA_DIR"] ?? "./data"
}

/// `quantd worker`: run job workers on a data directory (no HTTP).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run job workers on the data directory until stopped (SIGTERM/SIGINT), or until idle."
    )

    @OptionGroup var data: DataOptions

    @Option(help: "Worker count (QUANTD_WORKERS; default: the number of cores).")
    var workers = Int(ProcessInfo.processInfo.environment["QUANTD_WORKERS"] ?? "") ?? ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Lease length in seconds; a worker that stops renewing loses its job after this.")
    var leaseSeconds: Double = 30

    @Flag(help: "Exit once no job is queued or running.")
    var exitWhenIdle = false

    func run() throws {
        let directory = DataDirectory(root: data.dataDir)
        let store = try directory.openStore()
        var settings = WorkerSettings()
        settings.leaseSeconds = leaseSeconds
        let pool = WorkerPool(store: store, data: directory, workers: workers, settings: settings)
        try pool.start()
        FileHandle.standardError.write(Data("quantd worker: \(workers) workers on \(data.dataDir)\n".utf8))
        if exitWhenIdle {
            _ = pool.drain(timeout: 24 * 3600)
            return
        }
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
        pool.stop(deadline: 30)
        _ = sources
    }
}
