import Foundation
import JSON
import ModelFormats
import QuantTesting

/// `quant-bench checkpoint`: a Llama-3.2-1B-shaped BF16 checkpoint (1.24B parameters, two shards,
/// config.json, a 128k-token byte-level BPE tokenizer.json) converted to a llama.cpp Q4_K_M GGUF by
/// `quantctl quantize DIR`, against the same tensors in one safetensors file quantized without
/// conversion, in the same run: time (median of the repeats) and peak RSS of each.
public struct CheckpointBenchmark {
    public let directory: String
    public let quantctl: String
    public let layers: Int
    public let repeats: Int
    /// A quantd to upload the checkpoint to (skipped when nil).
    public let quantd: String?

    public init(directory: String, quantctl: String, layers: Int = 16, repeats: Int = 3, quantd: String? = nil) {
        self.directory = directory
        self.quantctl = quantctl
        self.layers = layers
        self.repeats = repeats
        self.quantd = quantd
    }

    static let hidden = 2048, heads = 32, kvHeads = 8, intermediate = 8192, vocabulary = 128_256

    public func run(progress: (String) -> Void) throws -> String {
        let root = (directory as NSString).appendingPathComponent("bench-checkpoint-\(ProcessInfo.processInfo.processIdentifier)")
        let checkpoint = (root as NSString).appendingPathComponent("Llama-shaped")
        try FileManager.default.createDirectory(atPath: checkpoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let tensors = shapes()
        let parameters = tensors.reduce(0) { $0 + $1.1.reduce(1, *) }
        progress("writing a \(parameters / 1_000_000)M-parameter BF16 checkpoint in 2 shards to \(checkpoint)")
        try writeCheckpoint(checkpoint, tensors: tensors)
        let single = (root as NSString).appendingPathComponent("single.safetensors")
        progress("writing the same tensors as one file (the baseline: no conversion)")
        try writeShard(single, tensors: tensors)
        let runner = PipelineBenchmark(
            sizeMiB: 0, directory: root, quantctl: quantctl, python: nil, threads: ProcessInfo.processInfo.activeProcessorCount)
        func measure(_ input: String, _ label: String) throws -> (seconds: Double, rss: Double) {
            var runs: [(Double, Double)] = []
            for run in 1...repeats {
                progress("\(label), run \(run) of \(repeats)")
                let output = (root as NSString).appendingPathComponent("out.gguf")
                try? FileManager.default.removeItem(atPath: output)
                runs.append(try runner.timed([quantctl, "quantize", input, "-o", output, "--preset", "q4_k_m"]))
            }
            return (runs.map(\.0).sorted()[runs.count / 2], runs.map(\.1).max()!)
        }
        let converted = try measure(checkpoint, "checkpoint -> llama.cpp Q4_K_M GGUF")
        let baseline = try measure(single, "one file, Q4_K_M, no conversion")
        try? FileManager.default.removeItem(atPath: single)
        let upload = try quantd.map {
            try BundleUploadBenchmark(quantd: $0, root: root, checkpoint: checkpoint).run(progress: progress)
        }
        var table =
            "checkpoint: \(parameters) parameters (Llama-3.2-1B shapes, \(layers) layers), BF16 in 2 shards, preset q4_k_m\n"
        table += "run                                     seconds   peak RSS MiB\n"
        table += "checkpoint -> GGUF for llama.cpp   " + String(format: "%12.2f %14.1f\n", converted.seconds, converted.rss)
        table += "one file, no conversion (baseline) " + String(format: "%12.2f %14.1f\n", baseline.seconds, baseline.rss)
        table += "ratio (checkpoint / baseline)      " + String(format: "%12.2f\n", converted.seconds / baseline.seconds)
        if let upload {
            table += "upload to quantd (sha256, fsync, validation): MB/s and ratio to the disk's fsync'd write speed\n"
            table += String(
                format: "disk write + fsync %8.0f\nmultipart          %8.0f  %5.2f\ntar stream         %8.0f  %5.2f\n",
                upload.diskMBps, upload.multipartMBps, upload.multipartMBps / upload.diskMBps, upload.tarMBps,
                upload.tarMBps / upload.diskMBps)
        }
        var fields: [(String, JSONValue)] = [
            ("parameters", .integer(parameters)),
            ("checkpoint_seconds", .number(converted.seconds, decimals: 3)),
            ("checkpoint_peak_rss_mib", .number(converted.rss, decimals: 1)),
            ("baseline_seconds", .number(baseline.seconds, decimals: 3)),
            ("baseline_peak_rss_mib", .number(baseline.rss, decimals: 1)),
            ("ratio_to_baseline", .number(converted.seconds / baseline.seconds, decimals: 3)),
        ]
        if let upload {
            fields += [
                ("disk_mbps", .number(upload.diskMBps, decimals: 1)),
                ("multipart_mbps", .number(upload.multipartMBps, decimals: 1)),
                ("tar_mbps", .number(upload.tarMBps, decimals: 1)),
            ]
        }
        return table + "JSON " + JSONValue.object(JSONObject(fields)).serialized + "\n"
    }

    /// Llama-3.2-1B's tensors (tied embeddings), `layers` deep.
    func shapes() -> [(String, [Int])] {
        let (h, kv, ff) = (Self.hidden, Self.kvHeads * Self.hidden / Self.heads, Self.intermediate)
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [Self.vocabulary, h])]
        for layer in 0..<layers {
            let p = "model.layers.\(layer)."
            shapes += [
                (p + "input_layernorm.weight", [h]), (p + "self_attn.q_proj.weight", [h, h]),
                (p + "self_attn.k_proj.weight", [kv, h]),
                (p + "self_attn.v_proj.weight", [kv, h]), (p + "self_attn.o_proj.weight", [h, h]),
                (p + "post_attention_layernorm.weight", [h]),
                (p + "mlp.gate_proj.weight", [ff, h]), (p + "mlp.up_proj.weight", [ff, h]),
                (p + "mlp.down_proj.weight", [h, ff]),
            ]
        }
        return shapes + [("model.norm.weight", [h])]
    }

    func writeCheckpoint(_ directory: String, tensors: [(String, [Int])]) throws {
        let total = tensors.reduce(0) { $0 + $1.1.reduce(1, *) }
        var firstShard: [(String, [Int])] = []
        var count = 0
        for tensor in tensors where count < total / 2 {
            firstShard.append(tensor)
            count += tensor.1.reduce(1, *)
        }
        let secondShard = Array(tensors.dropFirst(firstShard.count))
        let names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        try writeShard((directory as NSString).appendingPathComponent(names[0]), tensors: firstShard)
        try writeShard((directory as NSString).appendingPathComponent(names[1]), tensors: secondShard)
        let weightMap = JSONObject(firstShard.map { ($0.0, .string(names[0])) } + secondShard.map { ($0.0, .string(names[1])) })
        try write(
            .object(
                JSONObject([
                    ("metadata", .object(JSONObject([("total_size", .integer(total * 2))]))), ("weight_map", .object(weightMap)),
                ])),
            to: (directory as NSString).appendingPathComponent("model.safetensors.index.json"))
        let config = JSONObject([
            ("architectures", .array([.string("LlamaForCausalLM")])), ("hidden_size", .integer(Self.hidden)),
            ("intermediate_size", .integer(Self.intermediate)), ("num_hidden_layers", .integer(layers)),
            ("num_attention_heads", .integer(Self.heads)), ("num_key_value_heads", .integer(Self.kvHeads)),
            ("max_position_embeddings", .integer(131_072)), ("rms_norm_eps", .number("1e-05")),
            ("rope_theta", .number("500000.0")),
            (
                "rope_scaling",
                .object(
                    JSONObject([
                        ("rope_type", .string("llama3")), ("factor", .number("32.0")), ("low_freq_factor", .number("1.0")),
                        ("high_freq_factor", .number("4.0")), ("original_max_position_embeddings", .integer(8192)),
                    ]))
            ),
            ("tie_word_embeddings", .bool(true)), ("vocab_size", .integer(Self.vocabulary)), ("bos_token_id", .integer(128_000)),
            ("eos_token_id", .integer(128_001)), ("torch_dtype", .string("bfloat16")),
        ])
        try write(.object(config), to: (directory as NSString).appendingPathComponent("config.json"))
        try write(tokenizer(), to: (directory as NSString).appendingPathComponent("tokenizer.json"))
    }

    /// A byte-level BPE tokenizer.json of Llama 3's vocabulary size: 128,000 tokens (127,744 merges), 256 specials.
    func tokenizer() -> JSONValue {
        // GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest move up by 256.
        let alphabet: [String] = (0..<256).map { (byte: Int) -> String in
            let printable = (33...126).contains(byte) || (161...255).contains(byte)
            return String(UnicodeScalar(UInt32(printable ? byte : 256 + byte))!)
        }
        var vocab: [(String, JSONValue)] = alphabet.enumerated().map {
            (item: (offset: Int, element: String)) -> (String, JSONValue) in
            (item.element, JSONValue.integer(item.offset))
        }
        var merges: [JSONValue] = []
        // Every pair of byte symbols, then pairs extended by one symbol, each made by one merge: a
        // vocabulary a real BPE tokenizer (ours in quantctl evaluate) reads.
        for pair in 0..<(256 * 256) {
            vocab.append((alphabet[pair / 256] + alphabet[pair % 256], .integer(vocab.count)))
            merges.append(.string(alphabet[pair / 256] + " " + alphabet[pair % 256]))
        }
        for k in 0..<(128_000 - vocab.count) {
            let pair = alphabet[(k / 256) / 256] + alphabet[(k / 256) % 256]
            vocab.append((pair + alphabet[k % 256], .integer(vocab.count)))
            merges.append(.string(pair + " " + alphabet[k % 256]))
        }
        let added: [JSONValue] = (128_000..<Self.vocabulary).map { id in
            .object(
                JSONObject([
                    ("id", .integer(id)), ("content", .string("<|reserved_special_token_\(id - 128_000)|>")),
                    ("special", .bool(true)),
                ]))
        }
        let split =
            #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        return .object(
            JSONObject([
                ("added_tokens", .array(added)),
                (
                    "pre_tokenizer",
                    .object(
                        JSONObject([
                            ("type", .string("Sequence")),
                            (
                                "pretokenizers",
                                .array([
                                    .object(
                                        JSONObject([
                                            ("type", .string("Split")),
                                            ("pattern", .object(JSONObject([("Regex", .string(split))]))),
                                            ("behavior", .string("Isolated")),
                                        ])),
                                    .object(
                                        JSONObject([
                                            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                                            ("use_regex", .bool(false)),
                                        ])),
                                ])
                            ),
                        ]))
                ),
                (
                    "model",
                    .object(
                        JSONObject([("type", .string("BPE")), ("vocab", .object(JSONObject(vocab))), ("merges", .array(merges))]))
                ),
            ]))
    }

    func writeShard(_ path: String, tensors: [(String, [Int])]) throws {
        try writeSyntheticSafetensors(path, tensors: tensors, dtype: .bf16, seed: 5, divisor: 250_000)
    }

    func write(_ value: JSONValue, to path: String) throws {
        try Data(value.serializedBytes).write(to: URL(fileURLWithPath: path))
    }
}
