import ArgumentParser
import Foundation
import JSON
import ModelFormats
import QuantCore

/// `quantctl qat`: quantization-aware training of a feed-forward network on this machine.
struct QATCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qat",
        abstract:
            "Quantization-aware training of a feed-forward network (layers.{i}.weight / layers.{i}.bias), then the quantized artifact.",
        discussion:
            "The recipe is a quantize recipe (linear, binary or ternary weights; optional int8 activations). See docs/QAT.md."
    )

    @Argument(help: "The model (.safetensors).") var input: String
    @Option(name: .shortAndLong, help: "Where to write the artifact.") var output: String
    @Option(help: "A preset name.") var preset: String?
    @Option(help: "A recipe JSON file.") var recipe: String?
    @Option(
        help:
            "A JSON file with the training fields (epochs, batch_size, learning_rate, optimizer, seed, validation_split, activation, loss)."
    )
    var training: String?
    @Option(help: "The training data: safetensors with `x` and `y`.") var dataset: String
    @Option(help: "Also write the full JSON report here.") var report: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (preset == nil) != (recipe == nil) else {
            throw ValidationError("give exactly one of --preset NAME or --recipe FILE")
        }
    }

    func run() throws {
        try reportingFailures {
            let quantize = try QuantizeCommand.loadRecipe(preset: preset, file: recipe)
            var object = JSONObject([("dataset_id", .string("local"))])
            if let training {
                guard let data = FileManager.default.contents(atPath: training) else {
                    throw CLIFailure(kind: .user, message: "cannot read \(training)")
                }
                guard let given = try? StrictJSON.parse(String(decoding: data, as: UTF8.self)).objectValue else {
                    throw CLIFailure(kind: .user, message: "\(training) is not a JSON object")
                }
                for (key, value) in given.entries where key != "dataset_id" { object[key] = value }
            }
            let result: QAT.Result
            do {
                let spec = try TrainingSpec.parse(.object(object))
                result = try QAT.run(
                    model: input, dataset: dataset, recipe: quantize, training: spec, output: output, options: PipelineOptions()
                ) { epoch in
                    guard !json else { return }
                    let accuracy =
                        epoch.validationAccuracy.map { String(format: "  validation accuracy %.2f %%", $0 * 100) } ?? ""
                    FileHandle.standardError.write(
                        Data(
                            String(
                                format: "epoch %3d  loss %.4f  validation loss %.4f%@\n", epoch.epoch, epoch.trainLoss,
                                epoch.validationLoss, accuracy
                            ).utf8))
                }
            } catch let error as TrainingError {
                throw CLIFailure(kind: .user, message: "\(error)")
            } catch let error as FormatError {
                throw CLIFailure(kind: .user, message: "\(error)")
            }
            let text = result.report.json.serialized
            if let report { try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: report)) }
            if json {
                print(text)
            } else {
                let e = result.evaluation
                func percent(_ v: Double?) -> String { v.map { String(format: "%.2f %%", $0 * 100) } ?? "n/a" }
                print(
                    "validation accuracy: fp32 \(percent(e.fp32Accuracy)), post-training \(percent(e.ptqAccuracy)), QAT \(percent(e.qatAccuracy))"
                )
                print(
                    String(format: "trained %d epochs in %.2f s; wrote %@", result.epochs.count, result.trainingSeconds, output))
            }
        }
    }
}
