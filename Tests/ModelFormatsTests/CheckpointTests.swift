import Foundation
import Testing

@testable import ModelFormats

/// Checkpoint directories, good and hostile: each broken rule is its own error naming the file.
@Suite("Hugging Face checkpoints")
struct CheckpointTests {
    /// A directory with two shards (a, b in one; c in the other), an index and config.json.
    func makeCheckpoint(
        index: String? = nil, config: String = #"{"architectures": ["LlamaForCausalLM"]}"#,
        shards: [String: [String]] = ["model-1.safetensors": ["a", "b"], "model-2.safetensors": ["c"]]
    ) throws -> URL {
        let directory = try makeTemporaryDirectory()
        for (file, names) in shards {
            let header =
                "{"
                + names.enumerated().map { i, name in
                    #""\#(name)": {"dtype": "F32", "shape": [1], "data_offsets": [\#(i * 4), \#(i * 4 + 4)]}"#
                }.joined(separator: ", ") + "}"
            let bytes = safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: names.count * 4))
            try Data(bytes).write(to: directory.appendingPathComponent(file))
        }
        let defaultIndex =
            #"{"metadata": {}, "weight_map": {"a": "model-1.safetensors", "b": "model-1.safetensors", "c": "model-2.safetensors"}}"#
        try Data((index ?? defaultIndex).utf8).write(to: directory.appendingPathComponent(CheckpointRules.indexName))
        try Data(config.utf8).write(to: directory.appendingPathComponent("config.json"))
        try Data("{}".utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
        return directory
    }

    @Test func shardsReadAsOneModel() throws {
        let directory = try makeCheckpoint()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = try Checkpoint(directory: directory.path)
        #expect(
            checkpoint.shards.map { ($0.path as NSString).lastPathComponent } == ["model-1.safetensors", "model-2.safetensors"])
        #expect(checkpoint.shards.flatMap { $0.tensors.map(\.name) } == ["a", "b", "c"])
        #expect(checkpoint.sideFiles == ["config.json", "tokenizer.json"])
        #expect(checkpoint.config?["architectures"] != nil)
        #expect(Checkpoint.isCheckpoint(path: directory.path))
    }

    @Test func aMissingShardIsNamed() throws {
        let directory = try makeCheckpoint(
            index: #"{"weight_map": {"a": "model-1.safetensors", "b": "model-1.safetensors", "c": "model-3.safetensors"}}"#)
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = expectFormatError(.missingShard) { _ = try Checkpoint(directory: directory.path) }
        #expect(error?.message.contains("model-3.safetensors") == true)
    }

    @Test func aTensorInTwoShardsIsRefused() throws {
        let directory = try makeCheckpoint(shards: ["model-1.safetensors": ["a", "b"], "model-2.safetensors": ["c", "a"]])
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = expectFormatError(.shardMismatch) { _ = try Checkpoint(directory: directory.path) }
        #expect(error?.message.contains("two shards") == true)
    }

    @Test func anIndexEntryInTheWrongShardIsRefused() throws {
        let directory = try makeCheckpoint(
            index: #"{"weight_map": {"a": "model-2.safetensors", "b": "model-1.safetensors", "c": "model-2.safetensors"}}"#)
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = expectFormatError(.shardMismatch) { _ = try Checkpoint(directory: directory.path) }
        #expect(error?.tensor == "a")
    }

    @Test func aTensorTheIndexOmitsIsRefused() throws {
        let directory = try makeCheckpoint(index: #"{"weight_map": {"a": "model-1.safetensors", "c": "model-2.safetensors"}}"#)
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = expectFormatError(.shardMismatch) { _ = try Checkpoint(directory: directory.path) }
        #expect(error?.message.contains("'b'") == true)
    }

    @Test func hostileIndexesAreRefused() throws {
        for (index, code) in [
            (#"{"weight_map": {"a": "../model-1.safetensors"}}"#, FormatError.Code.invalidIndex),
            (#"{"weight_map": {"a": "model-1.bin"}}"#, .invalidIndex),
            (#"{"weight_map": {"a": 3}}"#, .invalidIndex),
            (#"{"weight_map": []}"#, .invalidIndex),
            (#"{"weight_map": {"a": "x", "a": "y"}}"#, .invalidIndex),
            ("not json", .invalidIndex),
        ] {
            let directory = try makeCheckpoint(index: index)
            defer { try? FileManager.default.removeItem(at: directory) }
            expectFormatError(code) { _ = try Checkpoint(directory: directory.path) }
        }
    }

    @Test func configMustParse() throws {
        for config in ["{", "[1]", #"{"a": 1, "a": 2}"#] {
            let directory = try makeCheckpoint(config: config)
            defer { try? FileManager.default.removeItem(at: directory) }
            let error = expectFormatError(.invalidConfig) { _ = try Checkpoint(directory: directory.path) }
            #expect(error?.message.contains("config.json") == true)
        }
    }

    @Test func severalWeightFilesNeedAnIndex() throws {
        let directory = try makeCheckpoint()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.removeItem(at: directory.appendingPathComponent(CheckpointRules.indexName))
        expectFormatError(.missingShard) { _ = try Checkpoint(directory: directory.path) }
    }

    @Test func fileNamesArePlain() {
        for name in ["", ".", "..", "a/b", #"a\b"#, "a\u{0}b", "a\nb", String(repeating: "x", count: 256)] {
            expectFormatError(.invalidFileName) { try CheckpointRules.checkFileName(name) }
        }
        #expect(throws: Never.self) { try CheckpointRules.checkFileName("model-00001-of-00002.safetensors") }
    }
}
