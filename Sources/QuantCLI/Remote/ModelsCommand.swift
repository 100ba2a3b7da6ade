import ArgumentParser
import Foundation
import QuantAPI
import QuantClient

/// `quantctl models ...`: upload and manage models on a server.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Upload, list, show and delete models on a QuantService server.",
        subcommands: [Upload.self, List.self, Show.self, Delete.self]
    )

    struct Upload: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload a safetensors or GGUF file (streamed, with progress).")

        @Argument(help: "The model file.") var file: String
        @Option(help: "A name for the model (default: the file name).") var name: String?
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try upload(remote: remote, output: output, describe: ModelsCommand.describe) { client, progress in
                try client.uploadModel(path: file, name: name, progress: progress)
            }
        }

        static func megabytes(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
    }

    struct List: RemoteCommand {
        static let configuration = CommandConfiguration(abstract: "List your models, newest first.")
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try show({ try $0.models() }) { models in
                guard !models.isEmpty else { return "no models\n" }
                let rows = models.map { [$0.id, $0.name, $0.format, String($0.size), String($0.tensorCount), $0.createdAt] }
                return TextTable(headers: ["ID", "NAME", "FORMAT", "BYTES", "TENSORS", "CREATED"], rows: rows).render()
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one model and its tensors.")
        @Argument(help: "The model id.") var id: String
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try reportingRemoteFailures {
                let client = try remote.client()
                let model = try client.model(id)
                let tensors = try client.tensors(ofModel: id)
                struct Shown: Encodable {
                    let model: Model
                    let tensors: [TensorInfo]
                }
                try output.emit(Shown(model: model, tensors: tensors)) {
                    ModelsCommand.describe(model)
                        + TextTable(
                            headers: ["TENSOR", "DTYPE", "SHAPE", "BYTES"],
                            rows: tensors.map {
                                [$0.name, $0.dtype, $0.shape.map(String.init).joined(separator: "x"), String($0.bytes)]
                            }
                        ).render()
                }
            }
        }
    }

    struct Delete: RemoteCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a model (refused while queued or running jobs use it).")
        @Argument(help: "The model id.") var id: String
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws { try delete(id) { try $0.deleteModel(id) } }
    }

    static func describe(_ m: Model) -> String {
        "model \(m.id)  \(m.name)  \(m.format)  \(m.size) bytes  \(m.tensorCount) tensors  \(m.parameterCount) parameters\nsha256 \(m.sha256)\n"
    }
}

extension ParsableCommand {
    /// An upload with a progress bar (unless --json), then the stored object.
    func upload<T: Encodable>(
        remote: RemoteOptions, output: OutputOptions, describe: @escaping (T) -> String,
        _ send: (QuantClient, @escaping @Sendable (TransferProgress) -> Void) throws -> T
    ) throws {
        try reportingRemoteFailures {
            let bar = ProgressBar(enabled: isatty(2) == 1 && !output.json)
            let stored = try send(try remote.client()) { progress in
                bar.draw(
                    fraction: Double(progress.uploaded) / Double(max(progress.uploadTotal, 1)),
                    detail:
                        "uploading \(ModelsCommand.Upload.megabytes(progress.uploaded)) of \(ModelsCommand.Upload.megabytes(progress.uploadTotal))"
                )
            }
            bar.finish()
            try output.emit(stored) { describe(stored) }
        }
    }
}
