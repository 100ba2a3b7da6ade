import Foundation
import JSON

/// A Hugging Face checkpoint directory read as one model: `config.json`, tokenizer files, and the
/// weights as one safetensors file or as shards listed by `model.safetensors.index.json`. Shards
/// are memory-mapped like single files, so no shard is held in memory.
public struct Checkpoint: Sendable {
    public let directory: String
    /// The weight files, in the order their tensors are read: the index's order of first mention.
    public let shards: [SafetensorsFile]
    /// Every other plain file (config.json, tokenizer files...), sorted: outputs copy them unchanged.
    public let sideFiles: [String]
    /// `config.json`, when the checkpoint has one.
    public let config: JSONObject?

    /// True when `path` is a directory (a checkpoint) rather than one model file.
    public static func isCheckpoint(path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Opens and validates a checkpoint (CheckpointRules): names, shard/index agreement, config.json.
    /// Subdirectories (sentence-transformers' `1_Pooling/`...) are not part of the model's files.
    public init(directory: String) throws {
        self.directory = directory
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted() } catch {
            throw FormatError(.io, "cannot list \(directory): \(error.localizedDescription)")
        }
        let files = names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: Self.join(directory, name), isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
        guard files.count <= CheckpointRules.maxFiles else {
            throw FormatError(
                .limitExceeded, "\(directory) holds \(files.count) files; a checkpoint has at most \(CheckpointRules.maxFiles)")
        }
        for name in files { try CheckpointRules.checkFileName(name) }

        let weightFiles = files.filter(CheckpointRules.isWeightFile)
        var shardNames: [String]
        if files.contains(CheckpointRules.indexName) {
            let indexFile = try MappedFile(path: Self.join(directory, CheckpointRules.indexName))
            let index = try withExtendedLifetime(indexFile) { try CheckpointRules.parseIndex(indexFile.bytes) }
            shardNames = []
            for entry in index where !shardNames.contains(entry.shard) { shardNames.append(entry.shard) }
            var tensors: [String: [String]] = [:]
            for name in shardNames where weightFiles.contains(name) {
                tensors[name] = try Self.openShard(directory, name).tensors.map(\.name)
            }
            try CheckpointRules.checkShards(index: index, shardTensors: tensors)
        } else {
            guard weightFiles.count == 1 else {
                throw FormatError(
                    .missingShard,
                    weightFiles.isEmpty
                        ? "\(directory) holds no .safetensors file: a checkpoint needs model.safetensors or shards with \(CheckpointRules.indexName)"
                        : "\(directory) holds \(weightFiles.count) .safetensors files and no \(CheckpointRules.indexName) saying which tensor lies where"
                )
            }
            shardNames = weightFiles
        }
        shards = try shardNames.map { try Self.openShard(directory, $0) }
        // Weight files the index does not list (a consolidated copy beside the shards) are neither
        // read nor copied.
        sideFiles = files.filter { !CheckpointRules.isWeightFile($0) && $0 != CheckpointRules.indexName }
        if files.contains("config.json") {
            let file = try MappedFile(path: Self.join(directory, "config.json"))
            guard
                let object = try withExtendedLifetime(file, { try CheckpointRules.parseJSON(file.bytes, file: "config.json") })
                    .objectValue
            else {
                throw FormatError(.invalidConfig, "config.json must hold a JSON object")
            }
            config = object
        } else {
            config = nil
        }
    }

    /// The path of a side file, if the checkpoint has it.
    public func path(of file: String) -> String? {
        sideFiles.contains(file) ? Self.join(directory, file) : nil
    }

    /// A side JSON file parsed (tokenizer.json, tokenizer_config.json...), or nil when absent. A
    /// name with folders (sentence-transformers' `1_Pooling/config.json`, named by modules.json) is
    /// read when each part is a plain name.
    public func json(_ file: String) throws -> JSONValue? {
        var path = path(of: file)
        if path == nil, file.contains("/") {
            let parts = file.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            for part in parts { try CheckpointRules.checkFileName(part) }
            let candidate = parts.reduce(directory) { Self.join($0, $1) }
            if FileManager.default.fileExists(atPath: candidate) { path = candidate }
        }
        guard let path else { return nil }
        let mapping = try MappedFile(path: path)
        return try withExtendedLifetime(mapping) { try CheckpointRules.parseJSON(mapping.bytes, file: file) }
    }

    /// A side file's bytes (tokenizer.model), or nil when absent; at most the parsed-JSON limit.
    public func bytes(_ file: String) throws -> [UInt8]? {
        guard let path = path(of: file) else { return nil }
        let mapping = try MappedFile(path: path)
        guard mapping.bytes.count <= CheckpointRules.maxParsedJSONBytes else {
            throw FormatError(
                .limitExceeded, "\(file) is \(mapping.bytes.count) bytes; at most \(CheckpointRules.maxParsedJSONBytes) are read")
        }
        return withExtendedLifetime(mapping) { Array(mapping.bytes) }
    }

    /// Bytes of all weight files.
    public var weightBytes: Int { shards.reduce(0) { $0 + $1.fileSize } }

    /// Bytes of the other files (config, tokenizer, ...), which a folder output copies.
    public var sideFileBytes: Int {
        sideFiles.reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: Self.join(directory, name))[.size] as? Int) ?? 0)
        }
    }

    static func openShard(_ directory: String, _ name: String) throws -> SafetensorsFile {
        do { return try SafetensorsFile(path: join(directory, name)) } catch let error as FormatError {
            throw FormatError(error.code, "\(name): \(error.message)", offset: error.offset, tensor: error.tensor)
        }
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
