import ArgumentParser
import Foundation
import QuantAPI
import QuantClient

/// `quantctl datasets ...`: calibration datasets (docs/CALIBRATION.md) on a server.
struct DatasetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets",
        abstract: "Upload, list, show and delete calibration datasets (safetensors of `<layer>.input` samples).",
        subcommands: [Upload.self, List.self, Show.self, Delete.self]
    )

    struct Upload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a dataset (streamed, with progress); name its id in a recipe's dataset_id.")

        @Argument(help: "The dataset file (.safetensors).") var file: String
        @Option(help: "A name for the dataset (default: the file name).") var name: String?
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try upload(remote: remote, output: output, describe: DatasetsCommand.describe) { client, progress in
                try client.uploadDataset(path: file, name: name, progress: progress)
            }
        }
    }

    struct List: RemoteCommand {
        static let configuration = CommandConfiguration(abstract: "List your datasets, newest first.")
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try show({ try $0.datasets() }) { datasets in
                guard !datasets.isEmpty else { return "no datasets\n" }
                let rows = datasets.map { [$0.id, $0.name, String($0.size), String($0.tensorCount), $0.createdAt] }
                return TextTable(headers: ["ID", "NAME", "BYTES", "TENSORS", "CREATED"], rows: rows).render()
            }
        }
    }

    struct Show: RemoteCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dataset and its layers (samples x features).")
        @Argument(help: "The dataset id.") var id: String
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try show({ try $0.dataset(id) }) { dataset in
                if let matrix = dataset.importanceMatrix {
                    let source = matrix.datasets.isEmpty ? "" : ", computed on \(matrix.datasets.joined(separator: ", "))"
                    return DatasetsCommand.describe(dataset)
                        + "llama.cpp importance matrix (\(matrix.format) file): \(matrix.entries) entries, \(matrix.chunks) chunks\(source)\n"
                }
                return DatasetsCommand.describe(dataset)
                    + TextTable(
                        headers: ["LAYER", "SAMPLES", "FEATURES"],
                        rows: (dataset.layers ?? []).map { [$0.name, String($0.samples), String($0.features)] }
                    ).render()
            }
        }
    }

    struct Delete: RemoteCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a dataset (refused while queued or running jobs use it).")
        @Argument(help: "The dataset id.") var id: String
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var output: OutputOptions

        func run() throws { try delete(id) { try $0.deleteDataset(id) } }
    }

    static func describe(_ d: Dataset) -> String {
        "dataset \(d.id)  \(d.name)  \(d.size) bytes  \(d.tensorCount) tensors\nsha256 \(d.sha256)\n"
    }
}
