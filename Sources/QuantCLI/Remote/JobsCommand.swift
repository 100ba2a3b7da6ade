import ArgumentParser
import Foundation
import QuantAPI
import QuantClient

/// `quantctl jobs ...`: submit, follow and fetch quantization jobs on a server.
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Submit, watch, list, cancel and download quantization jobs on a QuantService server.",
        subcommands: [Submit.self, Status.self, Wait.self, List.self, Report.self, Cancel.self, Download.self]
    )

    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue a job for an uploaded model.")
        @Argument(help: "The model id (from `quantctl models upload`).") var modelID: String
        @Option(help: "A preset name (see `quantctl presets`).") var preset: String?
        @Option(help: "A recipe JSON file (docs/RECIPES.md).") var recipe: String?
        @Option(help: "A name for the job.") var name: String?
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (preset == nil) != (recipe == nil) else {
                throw ValidationError("give exactly one of --preset NAME or --recipe FILE")
            }
        }

        func run() throws {
            try reportingRemoteFailures {
                let job = try JobsCommand.submit(
                    try remote.client(), modelID: modelID, preset: preset, recipeFile: recipe, name: name)
                try output.emit(job) { JobsCommand.describe(job) }
            }
        }
    }

    struct Status: RemoteCommand {
        static let configuration = CommandConfiguration(abstract: "Show a job's status, progress and summary.")
        @Argument(help: "The job id.") var id: String
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws { try show({ try $0.job(id) }, text: JobsCommand.describe) }
    }

    struct Wait: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait for a job to end, with a progress bar; exits 2 if it failed or was cancelled.")
        @Argument(help: "The job id.") var id: String
        @Option(help: "Give up after this many seconds (the job keeps running).") var timeout: Double = 24 * 3600
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reportingRemoteFailures {
                let job = try JobsCommand.wait(try remote.client(), id: id, timeout: timeout, showProgress: !output.json)
                try output.emit(job) { JobsCommand.describe(job) }
            }
        }
    }

    struct List: RemoteCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first (one page; see --cursor).")
        @Option(help: "Only jobs in this status (queued, running, succeeded, failed, cancelled).") var status: String?
        @Option(help: "Only jobs of this model.") var model: String?
        @Option(help: "Jobs per page (1-100).") var limit: Int?
        @Option(help: "The next_cursor of the previous page.") var cursor: String?
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try show({ try $0.jobs(status: status, modelID: model, limit: limit, cursor: cursor) }) { page in
                guard !page.jobs.isEmpty else { return "no jobs\n" }
                let rows = page.jobs.map {
                    [$0.id, $0.status, String(format: "%.0f%%", $0.progress.fraction * 100), $0.modelId, $0.createdAt]
                }
                return TextTable(headers: ["ID", "STATUS", "DONE", "MODEL", "CREATED"], rows: rows).render()
                    + (page.nextCursor.map { "more: --cursor \($0)\n" } ?? "")
            }
        }
    }

    struct Report: RemoteCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-tensor metrics of a succeeded job (QAT jobs: also the training).")
        @Argument(help: "The job id.") var id: String
        @Flag(help: "QAT jobs: chart the training loss and validation accuracy per epoch in the terminal.") var plot = false
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try show({ try $0.report(ofJob: id) }) { report in
                let training = report.training.map { Self.describe($0, plot: plot) } ?? ""
                let rows = report.tensors.map { t in
                    [
                        t.name, t.method, t.bits.map(String.init) ?? "-", String(format: "%.2f", t.bitsPerWeight),
                        t.sqnrDb.map { String(format: "%.2f", $0) } ?? "exact", String(t.bytesIn), String(t.bytesOut),
                    ]
                }
                return TextTable(headers: ["TENSOR", "METHOD", "BITS", "BPW", "SQNR_DB", "BYTES_IN", "BYTES_OUT"], rows: rows)
                    .render()
                    + (report.summary.map(JobsCommand.describe) ?? "") + training
            }
        }

        /// The evaluation, the epochs as a table, and with `plot` the two charts.
        static func describe(_ training: TrainingReport, plot: Bool) -> String {
            func percent(_ v: Double?) -> String { v.map { String(format: "%.2f %%", $0 * 100) } ?? "n/a" }
            var out = ""
            if let e = training.evaluation {
                out +=
                    "validation accuracy: fp32 \(percent(e.fp32Accuracy)), post-training \(percent(e.ptqAccuracy)), QAT \(percent(e.qatAccuracy))\n"
            }
            guard plot else {
                let rows = training.epochs.map { e in
                    [
                        String(e.epoch), e.trainLoss.map { String(format: "%.4f", $0) } ?? "-",
                        e.validationLoss.map { String(format: "%.4f", $0) } ?? "-", percent(e.validationAccuracy),
                    ]
                }
                return out
                    + TextTable(headers: ["EPOCH", "TRAIN_LOSS", "VALIDATION_LOSS", "VALIDATION_ACCURACY"], rows: rows).render()
            }
            out += TerminalChart(title: "training loss", values: training.epochs.map { $0.trainLoss ?? .nan }).render()
            if training.epochs.contains(where: { $0.validationAccuracy != nil }) {
                out += TerminalChart(
                    title: "validation accuracy (%)", values: training.epochs.map { ($0.validationAccuracy ?? .nan) * 100 },
                    format: "%.2f"
                ).render()
            } else {
                out += TerminalChart(title: "validation loss", values: training.epochs.map { $0.validationLoss ?? .nan }).render()
            }
            return out
        }
    }

    struct Cancel: RemoteCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued or running job.")
        @Argument(help: "The job id.") var id: String
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws { try show({ try $0.cancelJob(id) }, text: JobsCommand.describe) }
    }

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a succeeded job's artifact (resumable; checked against its sha256).")
        @Argument(help: "The job id.") var id: String
        @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write the artifact.") var file: String
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var format: OutputOptions

        func run() throws {
            try reportingRemoteFailures {
                let artifact = try JobsCommand.download(try remote.client(), id: id, to: file, showProgress: !format.json)
                try format.emit(artifact) { "wrote \(file) (\(artifact.size) bytes, sha256 \(artifact.sha256))\n" }
            }
        }
    }

    // MARK: - Shared by these commands and `quantize --server`

    static func submit(_ client: QuantClient, modelID: String, preset: String?, recipeFile: String?, name: String?) throws -> Job
    {
        if let preset { return try client.submitJob(modelID: modelID, preset: preset, name: name) }
        guard let recipeFile, let data = FileManager.default.contents(atPath: recipeFile) else {
            throw CLIFailure(kind: .user, message: "cannot read recipe file \(recipeFile ?? "")")
        }
        return try client.submitJob(modelID: modelID, recipeJSON: String(decoding: data, as: UTF8.self), name: name)
    }

    static func wait(_ client: QuantClient, id: String, timeout: Double, showProgress: Bool) throws -> Job {
        let bar = ProgressBar(enabled: showProgress && isatty(2) == 1)
        defer { bar.finish() }
        return try client.waitForJob(id, timeout: timeout) { job in
            bar.draw(fraction: job.progress.fraction, detail: "\(job.status)  \(job.progress.done)/\(job.progress.total)")
        }
    }

    static func download(_ client: QuantClient, id: String, to path: String, showProgress: Bool) throws -> Job.Artifact {
        let bar = ProgressBar(enabled: showProgress && isatty(2) == 1)
        defer { bar.finish() }
        let artifact = try client.downloadArtifact(ofJob: id, to: path) { p in
            bar.draw(fraction: Double(p.downloaded) / Double(max(p.downloadTotal, 1)), detail: "downloading")
        }
        // compressed-tensors: the config.json fragment too, next to the weights (as local quantize does).
        if let fragment = try client.artifactConfig(ofJob: id) {
            try Data((fragment + "\n").utf8).write(to: URL(fileURLWithPath: path + ".config.json"))
        }
        return artifact
    }

    static func describe(_ job: Job) -> String {
        var text =
            "job \(job.id)  \(job.status)  \(String(format: "%.0f%%", job.progress.fraction * 100))  attempt \(job.attempt)/\(job.maxAttempts)\n"
        if let error = job.error { text += "error: \(error.code): \(error.message)\n" }
        if let summary = job.summary { text += describe(summary) }
        return text
    }

    static func describe(_ s: JobSummary) -> String {
        func f(_ value: Double?, _ format: String) -> String { value.map { String(format: format, $0) } ?? "n/a" }
        return
            "size: \(s.bytesIn.map(String.init) ?? "?") -> \(s.bytesOut.map(String.init) ?? "?") bytes (\(f(s.compressionRatio, "%.2f"))x), "
            + "\(f(s.bitsPerWeight, "%.3f")) bits per weight\n"
            + "SQNR: mean \(f(s.meanSqnrDb, "%.2f")) dB, worst \(f(s.minSqnrDb, "%.2f")) dB\(s.worstTensor.map { " (\($0))" } ?? "")\n"
            + "time: \(f(s.durationSeconds, "%.2f")) s\n" + describe(evaluation: s.evaluation)
    }

    static func describe(evaluation e: ModelEvaluation?) -> String {
        guard let e else { return "" }
        func f(_ value: Double?, _ format: String) -> String { value.map { String(format: format, $0) } ?? "n/a" }
        func n(_ value: Int?) -> String { value.map(String.init) ?? "n/a" }
        if e.embeddingCosineMean != nil {
            return
                "evaluation: embedding cosine mean \(f(e.embeddingCosineMean, "%.6f")), min \(f(e.embeddingCosineMin, "%.6f")) over \(n(e.texts)) texts\n"
        }
        return "evaluation: perplexity \(f(e.perplexityOriginal, "%.4f")) -> \(f(e.perplexityQuantized, "%.4f")), "
            + "KL mean \(f(e.klDivergenceMean, "%.6f")) p99 \(f(e.klDivergenceP99, "%.6f")), top-1 \(f(e.top1Agreement, "%.4f"))"
            + " (\(n(e.chunks)) chunks of \(n(e.context)) tokens)\n"
    }
}
