import Foundation
import JSON
import ModelFormats

/// A checkpoint written as safetensors: a Hugging Face folder laid out as transformers'
/// save_pretrained lays it out, shards of at most a size in plan order, and an index when there is
/// more than one.
struct BundleLayout {
    static let defaultMaxShardBytes = 5_000_000_000
    let shards: [[TensorPlan]]
    let names: [String]

    init(plans: [TensorPlan], maxShardBytes: Int) {
        var shards: [[TensorPlan]] = [[]]
        var size = 0
        for plan in plans {
            let bytes = plan.outputs.reduce(0) { $0 + $1.byteCount }
            if !shards[shards.count - 1].isEmpty && size + bytes > maxShardBytes {
                shards.append([])
                size = 0
            }
            shards[shards.count - 1].append(plan)
            size += bytes
        }
        self.shards = shards
        let count = shards.count
        let padded = { (n: Int) in String(repeating: "0", count: Swift.max(0, 5 - String(n).count)) + String(n) }
        names = count == 1 ? ["model.safetensors"] : (1...count).map { "model-\(padded($0))-of-\(padded(count)).safetensors" }
    }

    /// `model.safetensors.index.json`, or nil for one shard (save_pretrained writes none then).
    var index: [UInt8]? {
        guard shards.count > 1 else { return nil }
        var weightMap: [(String, JSONValue)] = []
        var total = 0
        for (name, plans) in zip(names, shards) {
            for output in plans.flatMap(\.outputs) {
                weightMap.append((output.name, .string(name)))
                total += output.byteCount
            }
        }
        return JSONValue.object(
            JSONObject([
                ("metadata", .object(JSONObject([("total_size", .integer(total))]))),
                ("weight_map", .object(JSONObject(weightMap))),
            ])
        ).serializedBytes
    }
}

extension Pipeline {
    /// A checkpoint written as safetensors (or compressed-tensors) becomes a folder like it.
    static func writesFolder(_ source: SourceModel, recipe: Recipe) -> Bool {
        source.checkpoint != nil && recipe.output.isSafetensors
    }

    /// The folder's files besides the shards: config.json with `quantization_config` (for
    /// compressed-tensors the block vLLM reads), the index, and every other file copied unchanged.
    static func folderFiles(_ checkpoint: Checkpoint, layout: BundleLayout, plans: [TensorPlan], recipe: Recipe) -> [(
        name: String, contents: ArtifactWriter.FolderFile
    )] {
        var config = checkpoint.config ?? JSONObject()
        config["quantization_config"] =
            recipe.output == .compressedTensors
            ? CompressedTensors.config(plans, activations: recipe.activations)
            : .object(
                JSONObject([
                    ("quant_method", .string("quantservice")), ("format", .string(artifactFormat)), ("recipe", recipe.json),
                ]))
        var files: [(name: String, contents: ArtifactWriter.FolderFile)] = [
            ("config.json", .bytes(JSONValue.object(config).serializedBytes))
        ]
        if let index = layout.index { files.append((CheckpointRules.indexName, .bytes(index))) }
        for name in checkpoint.sideFiles where name != "config.json" {
            files.append((name, .copy(from: checkpoint.path(of: name)!)))
        }
        return files
    }

    /// Bytes of a file, or of every file in a folder.
    static func outputBytes(_ path: String) -> Int {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else { return 0 }
        guard isDirectory.boolValue else { return (try? manager.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        return ((try? manager.contentsOfDirectory(atPath: path)) ?? []).reduce(0) { total, name in
            total + ((try? manager.attributesOfItem(atPath: (path as NSString).appendingPathComponent(name))[.size] as? Int) ?? 0)
        }
    }
}
