import ArgumentParser
import ModelFormats

/// `quantctl inspect FILE [--json]`: validate a safetensors or GGUF file and describe it.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Validate a safetensors or GGUF file and list its tensors.",
        discussion: """
            The format is detected from the file's content. A malformed file exits with status 1 and \
            one line naming the failed check and the byte offset or tensor. Only the header is read: \
            tensor data stays on disk, so inspecting a large model takes little memory.
            """
    )

    @Argument(help: "The model file (.safetensors or .gguf).")
    var file: String

    @Flag(help: "Print one JSON object (format, tensor_count, parameter_count, tensors, metadata).")
    var json = false

    func run() throws {
        try reportingFailures {
            let model: ModelFile
            do {
                model = try ModelFile.open(path: file)
            } catch let error as FormatError {
                throw CLIFailure(kind: .user, message: "\(file): \(error)")
            }
            let report = InspectReport(model)
            print(json ? report.json() : report.text(), terminator: json ? "\n" : "")
        }
    }
}
