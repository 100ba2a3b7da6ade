import JSON

/// The rules a Hugging Face checkpoint's files obey, shared by the directory reader and the
/// server's bundle upload, so both refuse the same bundles with the same words.
public enum CheckpointRules {
    /// The index that maps tensor names to shard files.
    public static let indexName = "model.safetensors.index.json"
    /// Files in one checkpoint: a 405B model has 191 shards; the rest is a handful of JSON files.
    public static let maxFiles = 2048
    /// `model.safetensors.index.json`: about 100 bytes per tensor, so 64 MiB is ~600k tensors.
    public static let maxIndexBytes = 64 << 20
    /// JSON side files that are parsed (config.json, tokenizer.json of a 256k vocabulary is ~35 MB).
    public static let maxParsedJSONBytes = 256 << 20

    /// A file name that is one plain component: no directory, no `..`, no NUL, no control bytes.
    public static func checkFileName(_ name: String) throws {
        let bytes = Array(name.utf8)
        let rule: String? =
            if bytes.isEmpty { "is empty" } else if name == "." || name == ".." {
                "is a directory reference"
            } else if bytes.contains(0x2F) || bytes.contains(0x5C) {
                "contains a path separator ('/' or '\\\\'): give plain file names"
            } else if bytes.contains(0) { "contains a NUL byte" } else if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                "contains a control character"
            } else if bytes.count > 255 { "is longer than 255 bytes" } else { nil }
        if let rule { throw FormatError(.invalidFileName, "file name '\(printable(name))' \(rule)") }
    }

    /// True for the files that hold weights.
    public static func isWeightFile(_ name: String) -> Bool { name.hasSuffix(".safetensors") }

    /// `weight_map` of an index: tensor name -> shard file name, in the index's order.
    public static func parseIndex(_ bytes: UnsafeRawBufferPointer) throws -> [(tensor: String, shard: String)] {
        guard bytes.count <= maxIndexBytes else {
            throw FormatError(.limitExceeded, "\(indexName) is \(bytes.count) bytes; at most \(maxIndexBytes) are read")
        }
        let document: JSONValue
        do { document = try StrictJSON.parse(bytes) } catch let error as JSONError {
            throw FormatError(.invalidIndex, "\(indexName) is not valid JSON: \(error.message)")
        }
        guard let map = document.objectValue?["weight_map"]?.objectValue else {
            throw FormatError(.invalidIndex, "\(indexName) has no \"weight_map\" object (tensor name -> shard file)")
        }
        return try map.entries.map { entry in
            guard let shard = entry.value.stringValue else {
                throw FormatError(
                    .invalidIndex, "\(indexName): weight_map[\"\(entry.key)\"] must be a file name, got \(entry.value.typeName)",
                    tensor: entry.key)
            }
            do { try checkFileName(shard) } catch let error as FormatError {
                throw FormatError(
                    .invalidIndex, "\(indexName): weight_map[\"\(entry.key)\"]: \(error.message)", tensor: entry.key)
            }
            guard isWeightFile(shard) else {
                throw FormatError(
                    .invalidIndex,
                    "\(indexName): weight_map[\"\(entry.key)\"] names '\(shard)', which is not a .safetensors file",
                    tensor: entry.key)
            }
            return (entry.key, shard)
        }
    }

    /// Checks that the shards hold exactly the index's tensors: every entry in the shard it names,
    /// no tensor in two shards, no shard missing. `shardTensors` is each listed shard's tensor names.
    public static func checkShards(index: [(tensor: String, shard: String)], shardTensors: [String: [String]]) throws {
        var placed: [String: String] = [:]
        for (shard, tensors) in shardTensors.sorted(by: { $0.key < $1.key }) {
            for tensor in tensors {
                if let other = placed[tensor] {
                    throw FormatError(
                        .shardMismatch,
                        "tensor '\(tensor)' is in two shards, '\(other)' and '\(shard)'; each tensor must lie in exactly one",
                        tensor: tensor)
                }
                placed[tensor] = shard
            }
        }
        var listed = Set<String>()
        for entry in index {
            guard shardTensors[entry.shard] != nil else {
                throw FormatError(
                    .missingShard, "\(indexName) places '\(entry.tensor)' in '\(entry.shard)', which is missing: add that file",
                    tensor: entry.tensor)
            }
            guard placed[entry.tensor] == entry.shard else {
                let actual = placed[entry.tensor].map { "it lies in '\($0)'" } ?? "no shard holds it"
                throw FormatError(
                    .shardMismatch, "\(indexName) places '\(entry.tensor)' in '\(entry.shard)', but \(actual)",
                    tensor: entry.tensor)
            }
            listed.insert(entry.tensor)
        }
        if let stray = placed.keys.sorted().first(where: { !listed.contains($0) }) {
            throw FormatError(
                .shardMismatch,
                "tensor '\(stray)' in '\(placed[stray]!)' is not in \(indexName): the index must list every tensor", tensor: stray
            )
        }
    }

    /// A JSON file a checkpoint carries (config.json, tokenizer.json...), which must parse.
    public static func parseJSON(_ bytes: UnsafeRawBufferPointer, file: String) throws -> JSONValue {
        guard bytes.count <= maxParsedJSONBytes else {
            throw FormatError(.limitExceeded, "\(file) is \(bytes.count) bytes; at most \(maxParsedJSONBytes) are read")
        }
        do { return try StrictJSON.parse(bytes) } catch let error as JSONError {
            throw FormatError(.invalidConfig, "\(file) is not valid JSON: \(error.message)")
        }
    }

    static func printable(_ name: String) -> String {
        String(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }.prefix(80))
    }
}
