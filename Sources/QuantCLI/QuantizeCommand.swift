import ArgumentParser
import Foundation
import ModelFormats
import QuantCore

/// `quantctl quantize IN -o OUT (--preset P | --recipe FILE)`: quantize a model file locally.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a safetensors or GGUF model into an artifact and a report.",
        discussion: """
            Give a preset (see `quantctl presets`) or a recipe file (docs/RECIPES.md). The artifact \
            is written to a temporary file and renamed into place only when complete.
            """
    )

    @Argument(help: "The model file (.safetensors or .gguf).")
    var input: String

    @Option(name: .shortAndLong, help: "Where to write the artifact.")
    var output: String

    @Option(help: "A preset name, e.g. int8, int4-g128, q4_0.")
    var preset: String?

    @Option(help: "A recipe JSON file.")
    var recipe: String?

    @Option(help: "Also write the full JSON report here.")
    var report: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the report as JSON on stdout instead of the summary.")
    var json = false

    @Flag(help: "Do not fsync the artifact before renaming it into place (faster; not crash-safe).")
    var noFsync = false

    func validate() throws {
        guard (preset == nil) != (recipe == nil) else {
            throw ValidationError("give exactly one of --preset NAME or --recipe FILE")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        try reportingFailures {
            let recipe = try loadRecipe()
            let bar = ProgressBar(enabled: isatty(2) == 1)
            var options = PipelineOptions(progress: { bar.update($0) })
            if let threads { options.threads = threads }
            options.sync = !noFsync
            let result: Report
            do {
                result = try Pipeline.run(input: input, output: output, recipe: recipe, options: options)
            } catch let error as FormatError {
                throw CLIFailure(kind: .user, message: "\(input): \(error)")
            } catch let error as PipelineError {
                throw CLIFailure(kind: .user, message: "\(input): \(error)")
            }
            bar.finish()
            let text = result.json.serialized
            if let report { try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: report)) }
            print(json ? text : result.text, terminator: json ? "\n" : "")
        }
    }

    func loadRecipe() throws -> Recipe {
        do {
            if let preset { return try Recipe.preset(preset) }
            let path = recipe!
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIFailure(kind: .user, message: "cannot read recipe file \(path)")
            }
            return try Recipe.parse(String(decoding: data, as: UTF8.self))
        } catch let error as RecipeError {
            throw CLIFailure(kind: .user, message: "recipe: \(error)")
        }
    }
}
