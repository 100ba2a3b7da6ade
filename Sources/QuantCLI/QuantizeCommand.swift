import ArgumentParser
import Foundation
import ModelFormats
import QuantCore

/// `quantctl quantize IN -o OUT (--preset P | --recipe FILE) [--server URL]`: quantize a model file
/// locally, or on a server (upload, submit, wait, download) when a server is named.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a safetensors or GGUF model into an artifact and a report.",
        discussion: """
            Give a preset (see `quantctl presets`) or a recipe file (docs/RECIPES.md). The artifact \
            is written to a temporary file and renamed into place only when complete.

            Runs on this machine unless a server is named with --server or $QUANT_SERVER; then \
            the file is uploaded, a job submitted and followed, and the artifact downloaded and \
            checked against its sha256.
            """
    )

    @Argument(
        help:
            "The model file (.safetensors or .gguf), or a Hugging Face checkpoint directory (config.json, tokenizer files, safetensors shards with model.safetensors.index.json); written as GGUF it is converted for llama.cpp."
    )
    var input: String

    @Option(name: .shortAndLong, help: "Where to write the artifact.")
    var output: String

    @Option(help: "A preset name, e.g. int8, int4-g128, q4_0.")
    var preset: String?

    @Option(help: "A recipe JSON file.")
    var recipe: String?

    @Option(help: "Also write the full JSON report here.")
    var report: String?

    @Option(
        help:
            "A calibration dataset for GPTQ, AdaRound, AWQ and static activations: safetensors of `<layer>.input` samples, or text (plain or JSON Lines) that the checkpoint's forward pass turns into them; any dataset_id in the recipe refers to it. Every layer with samples is also evaluated (output SQNR, W8A8, int8 speed)."
    )
    var dataset: String?

    @Option(
        help:
            "A llama.cpp importance matrix (imatrix.gguf or legacy imatrix.dat from llama-imatrix): weights the search of every GGUF block type that takes it (Q4_0 ... Q5_1, IQ4_NL, the K-quants), as llama-quantize --imatrix does. Tensors are matched by llama.cpp name, or Hugging Face name for Llama-family models."
    )
    var imatrix: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the report as JSON on stdout instead of the summary.")
    var json = false

    @Flag(help: "Do not fsync the artifact before renaming it into place (faster; not crash-safe).")
    var noFsync = false

    @OptionGroup(title: "Server (quantize remotely)")
    var remote: RemoteOptions

    func validate() throws {
        guard (preset == nil) != (recipe == nil) else {
            throw ValidationError("give exactly one of --preset NAME or --recipe FILE")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if dataset != nil, imatrix != nil {
            throw ValidationError("give one of --dataset FILE or --imatrix FILE: a run reads one calibration file")
        }
        if imatrix != nil, remote.named {
            throw ValidationError(
                "with --server, upload the importance matrix as a dataset (quantctl datasets upload FILE) and put its id in the recipe's dataset_id"
            )
        }
        if dataset != nil, remote.named {
            throw ValidationError(
                "with --server, upload the dataset first (quantctl datasets upload FILE) and put its id in the recipe's dataset_id"
            )
        }
    }

    func run() throws {
        if remote.named { return try runRemotely() }
        try reportingFailures {
            var recipe = try loadRecipe()
            if imatrix != nil {
                recipe = recipe.weightingImportance(datasetID: "imatrix")
                guard recipe.takesImportance else {
                    throw CLIFailure(
                        kind: .user,
                        message:
                            "--imatrix: no type in this recipe takes importance weights (Q8_0, MXFP4, F16, BF16 and the linear methods do not); use a GGUF type such as Q4_K or a mix such as Q4_K_M"
                    )
                }
            }
            let bar = ProgressBar(enabled: isatty(2) == 1)
            var options = PipelineOptions(progress: { bar.update($0) })
            if let threads { options.threads = threads }
            options.sync = !noFsync
            options.calibrationDataset = dataset ?? imatrix
            let result: Report
            do {
                result = try Pipeline.run(input: input, output: output, recipe: recipe, options: options)
            } catch let error as FormatError {
                throw CLIFailure(kind: .user, message: "\(input): \(error)")
            } catch let error as PipelineError {
                throw CLIFailure(kind: .user, message: "\(input): \(error)")
            } catch let error as CalibrationError {
                throw CLIFailure(kind: .user, message: "\(dataset ?? imatrix ?? input): \(error)")
            }
            bar.finish()
            // compressed-tensors: the config.json fragment goes next to the weights.
            if recipe.output == .compressedTensors, !Checkpoint.isCheckpoint(path: output),
                let fragment = try CompressedTensors.configFragment(ofArtifact: output)
            {
                try Data((fragment + "\n").utf8).write(to: URL(fileURLWithPath: output + ".config.json"))
            }
            let text = result.json.serialized
            if let report { try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: report)) }
            print(json ? text : result.text, terminator: json ? "\n" : "")
        }
    }

    func loadRecipe() throws -> Recipe { try Self.loadRecipe(preset: preset, file: recipe) }

    static func loadRecipe(preset: String?, file: String?) throws -> Recipe {
        do {
            if let preset { return try Recipe.preset(preset) }
            let path = file ?? ""
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIFailure(kind: .user, message: "cannot read recipe file \(path)")
            }
            return try Recipe.parse(String(decoding: data, as: UTF8.self))
        } catch let error as RecipeError {
            throw CLIFailure(kind: .user, message: "recipe: \(error)")
        }
    }

    /// The whole flow against a server: upload, submit, wait, download, summary.
    func runRemotely() throws {
        try reportingRemoteFailures {
            let client = try remote.client()
            let bar = ProgressBar(enabled: isatty(2) == 1 && !json)
            let model = try client.uploadModel(path: input) { p in
                bar.draw(fraction: Double(p.uploaded) / Double(max(p.uploadTotal, 1)), detail: "uploading \(input)")
            }
            bar.finish()
            let submitted = try JobsCommand.submit(client, modelID: model.id, preset: preset, recipeFile: recipe, name: nil)
            let job = try JobsCommand.wait(client, id: submitted.id, timeout: 24 * 3600, showProgress: !json)
            try JobsCommand.download(client, id: job.id, to: output, showProgress: !json)
            if let report {
                let full = try client.report(ofJob: job.id)
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = [.sortedKeys]
                try encoder.encode(full).write(to: URL(fileURLWithPath: report))
            }
            try OutputOptions(json: json).emit(job) {
                "model \(model.id), job \(job.id): wrote \(output)\n" + JobsCommand.describe(job)
            }
        }
    }
}
