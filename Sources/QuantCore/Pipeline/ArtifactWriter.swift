import Foundation
import ModelFormats

/// The output: a safetensors or GGUF file, or a Hugging Face folder of safetensors shards, behind
/// one interface, written to a temporary sibling and renamed into place only when complete, so no
/// partial artifact is ever visible.
final class ArtifactWriter {
    let finalPath: String
    let temporaryPath: String
    private var safetensors: SafetensorsWriter?
    private var gguf: GGUFWriter?
    /// A folder's shards in order, the data bytes each still takes, and its other files.
    private var shards: [SafetensorsWriter] = []
    private var shardBytesLeft: [Int] = []
    private var folderFiles: [(name: String, contents: FolderFile)] = []
    enum FolderFile {
        case bytes([UInt8])
        case copy(from: String)
    }
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

    init(
        path: String, plans: [TensorPlan], format: Recipe.OutputFormat, safetensorsMetadata: [(key: String, value: String)],
        ggufMetadata: [GGUFKeyValue], ggufVersion: UInt32, hashing: Bool = false
    ) throws {
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
                    tensors: outputs.map { GGUFTensorSpec(name: $0.name, shape: $0.shape, type: $0.ggmlType!) },
                    version: ggufVersion,
                    hashing: hashing)
            }
        } catch let error as FormatError {
            try? FileManager.default.removeItem(atPath: temporaryPath)
            if error.code == .duplicateName {
                throw PipelineError.output(
                    "output tensor '\(error.tensor ?? "")' would exist twice (the input already has a tensor of that name)")
            }
            throw error.code == .noSpace
                ? PipelineError.noSpace("cannot write \(path): \(error)") : PipelineError.output("cannot write \(path): \(error)")
        }
    }

    /// A Hugging Face folder: `layout`'s shards (each with its own metadata) and `files` beside them.
    init(
        folder path: String, layout: BundleLayout, metadata: ([TensorPlan]) -> [(key: String, value: String)],
        files: [(name: String, contents: FolderFile)]
    ) throws {
        finalPath = path
        temporaryPath = path + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
        guard !FileManager.default.fileExists(atPath: path) else {
            throw PipelineError.output(
                "\(path) exists; a checkpoint is written as a new folder: remove it or choose another name")
        }
        try? FileManager.default.removeItem(atPath: temporaryPath)
        do {
            try FileManager.default.createDirectory(atPath: temporaryPath, withIntermediateDirectories: false)
            for (name, plans) in zip(layout.names, layout.shards) {
                let outputs = plans.flatMap(\.outputs)
                shards.append(
                    try SafetensorsWriter(
                        path: (temporaryPath as NSString).appendingPathComponent(name),
                        tensors: outputs.map { TensorSpec(name: $0.name, dtype: $0.dtype!, shape: $0.shape) },
                        metadata: metadata(plans)))
                shardBytesLeft.append(outputs.reduce(0) { $0 + $1.byteCount })
            }
        } catch let error as FormatError {
            try? FileManager.default.removeItem(atPath: temporaryPath)
            throw error.code == .noSpace
                ? PipelineError.noSpace("cannot write \(path): \(error)") : PipelineError.output("cannot write \(path): \(error)")
        } catch {
            try? FileManager.default.removeItem(atPath: temporaryPath)
            throw POSIX.isNoSpace(error)
                ? PipelineError.noSpace("cannot create \(temporaryPath): \(error.localizedDescription)")
                : PipelineError.output("cannot create \(temporaryPath): \(error.localizedDescription)")
        }
        folderFiles = files
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if discards { return }
        if !shards.isEmpty { return try writeShards(bytes) }
        if let safetensors { try safetensors.write(bytes) } else { try gguf!.write(bytes) }
    }

    /// Bytes go to the first shard that still takes some (a shard ends at a tensor boundary).
    private func writeShards(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            guard let index = shardBytesLeft.firstIndex(where: { $0 > 0 }) else {
                throw PipelineError.output("internal: more bytes than the planned shards hold")
            }
            let take = Swift.min(rest.count, shardBytesLeft[index])
            try shards[index].write(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            shardBytesLeft[index] -= take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
        }
    }

    func write<T>(_ values: [T]) throws {
        try values.withUnsafeBytes { try write($0) }
    }

    /// Completes the file, fsyncs it (when `sync`) and renames it into place; returns its SHA-256
    /// when the writer was made with `hashing`.
    @discardableResult
    func commit(sync: Bool) throws -> String? {
        if !shards.isEmpty { return try commitFolder(sync: sync) }
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

    /// Finishes every shard, writes the folder's other files, and renames the folder into place.
    private func commitFolder(sync: Bool) throws -> String? {
        for shard in shards { try shard.finish(sync: sync) }
        for (name, contents) in folderFiles {
            let path = (temporaryPath as NSString).appendingPathComponent(name)
            do {
                switch contents {
                case .bytes(let bytes): try Data(bytes).write(to: URL(fileURLWithPath: path))
                case .copy(let source): try FileManager.default.copyItem(atPath: source, toPath: path)
                }
            } catch {
                throw POSIX.isNoSpace(error)
                    ? PipelineError.noSpace("cannot write \(path): \(error.localizedDescription)")
                    : PipelineError.output("cannot write \(path): \(error.localizedDescription)")
            }
            if sync { try POSIX.sync(path: path) }
        }
        if sync { try POSIX.sync(path: temporaryPath) }
        guard rename(temporaryPath, finalPath) == 0 else {
            throw PipelineError.output("cannot rename the finished folder to \(finalPath): \(String(cString: strerror(errno)))")
        }
        done = true
        return nil
    }

    /// Removes the partial file or folder (on failure or cancellation).
    func abort() {
        guard !done else { return }
        safetensors = nil
        gguf = nil
        shards = []
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }

    deinit { abort() }
}
