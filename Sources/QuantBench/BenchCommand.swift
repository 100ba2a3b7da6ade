import ArgumentParser
import Foundation

/// `quant-bench`: release-mode benchmarks that print a table (or JSON) with ratios to baselines
/// measured in the same run.
public struct QuantBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "quant-bench",
        abstract: "Benchmarks for QuantService (build with -c release).",
        subcommands: [KernelsCommand.self, PipelineCommand.self, CheckpointCommand.self, EvaluateCommand.self, QueueCommand.self, GPTQCommand.self]
    )

    public init() {}
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

    @Option(help: "Where to write the temporary model and artifacts.")
    var directory = FileManager.default.temporaryDirectory.path

    @Option(help: "quantctl to run (default: next to this executable).")
    var quantctl: String?

    @Option(help: "A Python with gguf and safetensors for the baseline (default: .venv/bin/python if present).")
    var python: String?

    @Option(help: "Threads for quantctl and the kernels.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let tool = quantctl ?? (here as NSString).appendingPathComponent("quantctl")
        let py = python ?? (FileManager.default.isExecutableFile(atPath: ".venv/bin/python") ? ".venv/bin/python" : nil)
        let text = try PipelineBenchmark(sizeMiB: sizeMib, directory: directory, quantctl: tool, python: py, threads: threads).run { step in
            FileHandle.standardError.write(Data("  \(step)\n".utf8))
        }
        print(text, terminator: "")
    }
}

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "A Llama-3.2-1B-shaped BF16 checkpoint in 2 shards to a llama.cpp Q4_K_M GGUF: time and peak RSS against one file without conversion."
    )

    @Option(help: "Where to write the temporary checkpoint and artifacts.")
    var directory = FileManager.default.temporaryDirectory.path

    @Option(help: "quantctl to run (default: next to this executable).")
    var quantctl: String?

    @Option(help: "Decoder layers (16 as in Llama-3.2-1B; fewer for a quick look).")
    var layers = 16

    @Option(help: "Runs of each, the median reported.")
    var repeats = 3

    @Option(help: "quantd for the upload measurement (default: next to this executable, if built).")
    var quantd: String?

    func run() throws {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let tool = quantctl ?? (here as NSString).appendingPathComponent("quantctl")
        let server = quantd ?? (here as NSString).appendingPathComponent("quantd")
        let uploadTo = FileManager.default.isExecutableFile(atPath: server) ? server : nil
        let text = try CheckpointBenchmark(directory: directory, quantctl: tool, layers: layers, repeats: repeats, quantd: uploadTo).run { step in
            FileHandle.standardError.write(Data("  \(step)\n".utf8))
        }
        print(text, terminator: "")
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "quantctl evaluate of a Llama-3.2-1B-shaped checkpoint against its Q4_K_M GGUF: time, peak RSS, GFLOPS against sgemm."
    )

    @Option(help: "Where to write the temporary checkpoint.")
    var directory = FileManager.default.temporaryDirectory.path

    @Option(help: "quantctl to run (default: next to this executable).")
    var quantctl: String?

    @Option(help: "Decoder layers (16 as in Llama-3.2-1B).")
    var layers = 16

    @Option(help: "Chunks of text.")
    var chunks = 8

    @Option(help: "Tokens per chunk.")
    var context = 512

    func run() throws {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let tool = quantctl ?? (here as NSString).appendingPathComponent("quantctl")
        let text = try EvaluationBenchmark(directory: directory, quantctl: tool, layers: layers, chunks: chunks, context: context).run { step in
            FileHandle.standardError.write(Data("  \(step)\n".utf8))
        }
        print(text, terminator: "")
    }
}

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "The job queue under load: submitters submit and poll jobs on a small model while workers run them."
    )

    @Option(help: "Jobs in all.") var jobs = 2000
    @Option(help: "Submitting and polling threads.") var submitters = 8
    @Option(help: "Workers.") var workers = 2

    func run() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-queue-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var load = QueueLoad(directory: directory.path)
        load.jobs = jobs
        load.submitters = submitters
        load.workers = workers
        let r = try load.run()
        print(String(format: "queue: %d jobs, %d submitters, %d workers: %.2f s, %.1f jobs/s; claim p50 %.2f ms, p99 %.2f ms; succeeded %d, distinct %d, submit errors %d, max attempt %d",
                     r.jobs, submitters, workers, r.seconds, r.jobsPerSecond, r.claimP50 * 1000, r.claimP99 * 1000, r.succeeded, r.distinct, r.submitErrors.count, r.maxAttempt))
        print(String(format: "JSON {\"jobs\":%d,\"seconds\":%.3f,\"jobs_per_second\":%.1f,\"claim_p50_ms\":%.3f,\"claim_p99_ms\":%.3f,\"lost\":%d,\"duplicated\":%d}",
                     r.jobs, r.seconds, r.jobsPerSecond, r.claimP50 * 1000, r.claimP99 * 1000, jobs - r.succeeded, r.jobs - r.distinct))
    }
}
