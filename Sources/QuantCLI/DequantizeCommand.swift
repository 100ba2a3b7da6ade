import ArgumentParser
import ModelFormats
import QuantCore

/// `quantctl dequantize IN -o OUT`: any artifact back to fp32 safetensors.
struct DequantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dequantize",
        abstract: "Turn an artifact (ours, or GGUF) back into fp32 safetensors."
    )

    @Argument(help: "The artifact (.safetensors written by quantctl, or .gguf).")
    var input: String

    @Option(name: .shortAndLong, help: "Where to write the fp32 safetensors file.")
    var output: String

    func run() throws {
        try reportingFailures {
            do {
                let count = try Dequantizer.run(input: input, output: output)
                print("wrote \(count) tensors to \(output)")
            } catch let error as FormatError {
                throw CLIFailure(kind: .user, message: "\(input): \(error)")
            } catch let error as PipelineError {
                throw CLIFailure(kind: .user, message: "\(input): \(error)")
            }
        }
    }
}
