import Foundation
import ModelFormats

/// The output file: a safetensors or GGUF writer behind one interface, written to a temporary
/// sibling and renamed into place only when complete, so no partial artifact is ever visible.
final class ArtifactWriter {
    let finalPath: String
    let temporaryPath: String
    private var safetensors: SafetensorsWriter?
    private var gguf: GGUFWriter?
    private var done = false
    /// Measuring runs (mixed precision) write nothing.
    private var discards = false

    /// A writer that takes and drops every byte.
    static func discarding() -> ArtifactWriter { ArtifactWriter() }

    private init() {
        finalPath = ""
        temporaryPath = ""
        discards = true
    }

    init(path: String, plans: [TensorPlan], format: Recipe.OutputFormat, safetensorsMetadata: [(key: String, value: String)],
         ggufMetadata: [GGUFKeyValue], ggufVersion: UInt32, hashing: Bool = false) throws {
        finalPath = path
        temporaryPath = path + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
        let outputs = plans.flatMap(\.outputs)
        do {
            switch format {
            case .safetensors, .compressedTensors:
                safetensors = try SafetensorsWriter(
                    path: temporaryPath, tensors: outputs.map { TensorSpec(name: $0.name, dtype: $0.dtype!, shape: $0.shape) },
                    metadata: safetensorsMetadata, hashing: hashing)
            case .gguf:
                gguf = try GGUFWriter(
                    path: temporaryPath, metadata: ggufMetadata,
                    tensors: outputs.map { GGUFTensorSpec(name: $0.name, shape: $0.shape, type: $0.ggmlType!) }, version: ggufVersion,
                    hashing: hashing)
            }
        } catch let error as FormatError {
            try? FileManager.default.removeItem(atPath: temporaryPath)
            if error.code == .duplicateName {
                throw PipelineError.output("output tensor '\(error.tensor ?? "")' would exist twice (the input already has a tensor of that name)")
            }
            throw PipelineError.output("cannot write \(path): \(error)")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if discards { return }
        if let safetensors { try safetensors.write(bytes) } else { try gguf!.write(bytes) }
    }

    func write<T>(_ values: [T]) throws {
        try values.withUnsafeBytes { try write($0) }
    }

    /// Completes the file, fsyncs it (when `sync`) and renames it into place; returns its SHA-256
    /// when the writer was made with `hashing`.
    @discardableResult
    func commit(sync: Bool) throws -> String? {
        let digest: String?
        if let safetensors {
            try safetensors.finish(sync: sync)
            digest = safetensors.sha256
        } else {
            try gguf!.finish(sync: sync)
            digest = gguf!.sha256
        }
        guard rename(temporaryPath, finalPath) == 0 else {
            throw PipelineError.output("cannot rename the finished artifact to \(finalPath): \(String(cString: strerror(errno)))")
        }
        done = true
        return digest
    }

    /// Removes the partial file (on failure or cancellation).
    func abort() {
        guard !done else { return }
        safetensors = nil
        gguf = nil
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }

    deinit { abort() }
}
