import ArgumentParser
import Foundation
import JSON
import QuantStore
import QuantTesting

/// `quant-bench`: release-mode benchmarks that print a table (or JSON) with ratios to baselines
/// measured in the same run.
public struct QuantBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "quant-bench",
        abstract: "Benchmarks for QuantService (build with -c release).",
        subcommands: [
            KernelsCommand.self, PipelineCommand.self, CheckpointCommand.self, EvaluateCommand.self, QueueCommand.self,
            GPTQCommand.self,
        ]
    )

    public init() {}
}

/// What the benchmarks that run our tools share: where they work and which quantctl they run.
struct ToolOptions: ParsableArguments {
    @Option(help: "Where to write the temporary model, checkpoint and artifacts.")
    var directory = FileManager.default.temporaryDirectory.path

    @Option(help: "quantctl to run (default: next to this executable).")
    var quantctl: String?

    /// `name` beside this executable (quantctl, quantd).
    static func sibling(_ name: String) -> String {
        (URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path as NSString).appendingPathComponent(name)
    }

    var quantctlPath: String { quantctl ?? Self.sibling("quantctl") }
}

/// A benchmark's progress, one step a line on stderr (the table goes to stdout).
func reportStep(_ step: String) {
    FileHandle.standardError.write(Data("  \(step)\n".utf8))
}

struct KernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Int8 kernels on a 4096 x 4096 fp32 matrix, against memcpy and the int8 register peak."
    )

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Option(help: "Also measure with this many threads (results for 1 thread are always included).")
    var threads = 1

    @Option(help: "Timed runs per measurement; the median is reported.")
    var repeats = 7

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        #if DEBUG
            FileHandle.standardError.write(Data("warning: debug build; run `swift build -c release` for real figures\n".utf8))
        #endif
        let report = try KernelBenchmark(threads: threads, repeats: repeats).run { step in
            FileHandle.standardError.write(Data("  measuring \(step)\n".utf8))
        }
        print(json ? report.json() : report.table(), terminator: json ? "\n" : "")
    }
}

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "quantctl quantize on a generated F32 model: time, peak RSS, ratio to the kernels and to gguf-py."
    )

    @Option(help: "Model size in MiB.")
    var sizeMib = 1024

    @OptionGroup var tools: ToolOptions

    @Option(help: "A Python with gguf and safetensors for the baseline (default: .venv/bin/python if present).")
    var python: String?

    @Option(help: "Threads for quantctl and the kernels.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        let py = python ?? (FileManager.default.isExecutableFile(atPath: ".venv/bin/python") ? ".venv/bin/python" : nil)
        let benchmark = PipelineBenchmark(
            sizeMiB: sizeMib, directory: tools.directory, quantctl: tools.quantctlPath, python: py, threads: threads)
        print(try benchmark.run(progress: reportStep), terminator: "")
    }
}

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract:
            "A Llama-3.2-1B-shaped BF16 checkpoint in 2 shards to a llama.cpp Q4_K_M GGUF: time and peak RSS against one file without conversion."
    )

    @OptionGroup var tools: ToolOptions

    @Option(help: "Decoder layers (16 as in Llama-3.2-1B; fewer for a quick look).")
    var layers = 16

    @Option(help: "Runs of each, the median reported.")
    var repeats = 3

    @Option(help: "quantd for the upload measurement (default: next to this executable, if built).")
    var quantd: String?

    func run() throws {
        let server = quantd ?? ToolOptions.sibling("quantd")
        let uploadTo = FileManager.default.isExecutableFile(atPath: server) ? server : nil
        let benchmark = CheckpointBenchmark(
            directory: tools.directory, quantctl: tools.quantctlPath, layers: layers, repeats: repeats, quantd: uploadTo)
        print(try benchmark.run(progress: reportStep), terminator: "")
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract:
            "quantctl evaluate of a Llama-3.2-1B-shaped checkpoint against its Q4_K_M GGUF: time, peak RSS, GFLOPS against sgemm."
    )

    @OptionGroup var tools: ToolOptions

    @Option(help: "Decoder layers (16 as in Llama-3.2-1B).")
    var layers = 16

    @Option(help: "Chunks of text.")
    var chunks = 8

    @Option(help: "Tokens per chunk.")
    var context = 512

    func run() throws {
        let benchmark = EvaluationBenchmark(
            directory: tools.directory, quantctl: tools.quantctlPath, layers: layers, chunks: chunks, context: context)
        print(try benchmark.run(progress: reportStep), terminator: "")
    }
}

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "The job queue under load: submitters submit and poll jobs on a small model while workers run them.",
        discussion: """
            On SQLite by default. With --postgres, the same load also runs on PostgreSQL in the same \
            run, with 1, 2 and 3 replicas (--replicas), each in a fresh database; ratios are against \
            SQLite (polls) and against one replica (throughput).
            """
    )

    @Option(help: "Jobs in all.") var jobs = 2000
    @Option(help: "Submitting and polling threads.") var submitters = 8
    @Option(help: "Workers per replica.") var workers = 2
    @Option(
        help: "A PostgreSQL server URL (postgres://user@host:port), or 'auto' to start a throw-away one with scripts/postgres.sh."
    )
    var postgres: String?
    @Option(help: "Replica counts to run on PostgreSQL, comma-separated.") var replicas = "1,2,3"
    @Option(help: "Seconds of polling per run after the load.") var pollSeconds = 2.0
    @Option(help: "Jobs submitted one at a time on an idle queue per run (submit-to-start latency).") var idleJobs = 100

    func run() throws {
        var rows = [("sqlite", 1, try load(database: nil, replicas: 1))]
        if let postgres {
            let server = postgres == "auto" ? try TestPostgres.server.get() : postgres
            for count in replicas.split(separator: ",").compactMap({ Int($0) }) {
                let name = "qs_bench_" + UUID().uuidString.prefix(8).lowercased()
                try Store.createPostgresDatabase(name, serverURL: server + "/postgres")
                rows.append(("postgresql", count, try load(database: server + "/" + name, replicas: count)))
            }
        }
        let sqlitePolls = rows[0].2.pollsPerSecond
        let oneReplica = rows.first { $0.0 == "postgresql" && $0.1 == 1 }?.2.jobsPerSecond
        print("queue: \(jobs) jobs, \(submitters) submitters, \(workers) workers per replica")
        print(
            "start: submit until a worker starts it, under the load and then one job at a time on an idle queue; claim: the claim transaction"
        )
        print(
            "database    replicas   jobs/s  vs 1 replica  start p50  start p99  idle p50  idle p99  claim p50  claim p99   polls/s  vs sqlite  lost  duplicated  max attempt"
        )
        var json: [JSONValue] = []
        for (engine, count, r) in rows {
            let scaling = engine == "postgresql" ? oneReplica.map { r.jobsPerSecond / $0 } : nil
            let pollRatio = r.pollsPerSecond / sqlitePolls
            print(
                engine.padding(toLength: 11, withPad: " ", startingAt: 0) + String(count).leftPad(9)
                    + String(format: "%9.1f", r.jobsPerSecond)
                    + (scaling.map { String(format: "%14.2f", $0) } ?? "             -")
                    + String(
                        format: "%8.1f ms%8.1f ms%7.2f ms%7.2f ms%8.2f ms%8.2f ms%10.0f%11.2f", r.startP50 * 1000,
                        r.startP99 * 1000, r.idleStartP50 * 1000, r.idleStartP99 * 1000,
                        r.claimP50 * 1000, r.claimP99 * 1000, r.pollsPerSecond, pollRatio)
                    + String(r.jobs - r.succeeded).leftPad(6) + String(r.jobs - r.distinct).leftPad(12)
                    + String(r.maxAttempt).leftPad(13))
            var row = JSONObject([
                ("database", .string(engine)), ("replicas", .integer(count)), ("jobs", .integer(r.jobs)),
                ("seconds", .number(r.seconds, decimals: 3)), ("jobs_per_second", .number(r.jobsPerSecond, decimals: 1)),
                ("start_p50_ms", .number(r.startP50 * 1000, decimals: 3)),
                ("start_p99_ms", .number(r.startP99 * 1000, decimals: 3)),
                ("idle_start_p50_ms", .number(r.idleStartP50 * 1000, decimals: 3)),
                ("idle_start_p99_ms", .number(r.idleStartP99 * 1000, decimals: 3)),
                ("claim_p50_ms", .number(r.claimP50 * 1000, decimals: 3)),
                ("claim_p99_ms", .number(r.claimP99 * 1000, decimals: 3)),
                ("polls_per_second", .number(r.pollsPerSecond, decimals: 0)),
                ("polls_vs_sqlite", .number(pollRatio, decimals: 3)),
                ("lost", .integer(r.jobs - r.succeeded)), ("duplicated", .integer(r.jobs - r.distinct)),
                ("submit_errors", .integer(r.submitErrors.count)),
            ])
            if let scaling { row["jobs_vs_one_replica"] = .number(scaling, decimals: 3) }
            json.append(.object(row))
        }
        print("JSON " + JSONValue.array(json).serialized)
    }

    func load(database: String?, replicas: Int) throws -> QueueLoad.Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-queue-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var load = QueueLoad(directory: directory.path)
        load.jobs = jobs
        load.submitters = submitters
        load.workers = workers
        load.database = database
        load.replicas = replicas
        load.pollSeconds = pollSeconds
        load.idleJobs = idleJobs
        let result = try load.run()
        if let error = result.submitErrors.first {
            throw ValidationError("\(result.submitErrors.count) submits failed, e.g. \(error)")
        }
        return result
    }
}
