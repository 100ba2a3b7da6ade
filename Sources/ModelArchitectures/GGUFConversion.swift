import JSON
import ModelFormats

/// One tensor of a converted model, under its llama.cpp name.
public struct ConvertedTensor: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        /// A checkpoint tensor, by its Hugging Face name.
        case checkpoint(String)
        /// Values computed from config.json (llama3's `rope_freqs.weight`), with their shape.
        case generated([Float])
    }

    public let name: String
    public let origin: Origin
    /// Rows regrouped per head for llama.cpp's rotary layout (convert_hf_to_gguf.py's `permute`),
    /// with this many heads: Llama and Mistral query and key projections.
    public let permuteHeads: Int?
    /// Stored as F32 whatever the recipe: norms, biases and other 1-D tensors, as llama.cpp's
    /// converter stores them.
    public let keepF32: Bool
}

/// How a Hugging Face checkpoint becomes a GGUF that llama.cpp loads: tensor names, row layouts,
/// hyper-parameters and tokenizer, as llama.cpp's convert_hf_to_gguf.py writes them.
public struct GGUFConversion: Sendable {
    /// `general.architecture`: "llama", "qwen2", "qwen3", "bert".
    public let architecture: String
    /// In the order they are written.
    public let tensors: [ConvertedTensor]
    /// `general.*`, hyper-parameters and `tokenizer.*` (the pipeline adds file type and recipe).
    public let metadata: [GGUFKeyValue]
    public let layerCount: Int
    public let headCount: Int
    public let headCountKV: Int

    /// The `architectures` entries of config.json that convert.
    public static let supported = DecoderFamily.supported + BertFamily.supported

    /// Plans the conversion of a checkpoint whose tensors are `tensors` (in reading order). `name`
    /// becomes `general.name`; `sideFile` reads one of the checkpoint's JSON files and `sideBytes`
    /// any other (tokenizer.model), each nil when absent.
    public static func make(
        config: JSONObject?, name: String, tensors: [(name: String, shape: [Int])], sideFile: (String) throws -> JSONValue?,
        sideBytes: (String) throws -> [UInt8]? = { _ in nil }
    ) throws -> GGUFConversion {
        guard let config else {
            throw ConversionError(
                .invalidConfig,
                "a GGUF for llama.cpp is made from a checkpoint with config.json; this model has none (add it, or write safetensors)"
            )
        }
        let hf = HFConfig(config)
        guard let architecture = hf.architecture else {
            throw ConversionError(
                .invalidConfig, "config.json has no \"architectures\" entry; supported: \(supported.joined(separator: ", "))")
        }
        if DecoderFamily.supported.contains(architecture) {
            return try DecoderFamily(hf, architecture: architecture).conversion(
                name: name, tensors: tensors, sideFile: sideFile, sideBytes: sideBytes)
        }
        if BertFamily.supported.contains(architecture) {
            return try BertFamily(hf).conversion(name: name, tensors: tensors, sideFile: sideFile)
        }
        throw ConversionError(
            .unsupportedArchitecture,
            "architecture \(architecture) has no GGUF conversion here; supported: \(supported.joined(separator: ", ")) (or write safetensors)"
        )
    }

    /// The keys every converted model has (TextModel.set_gguf_parameters' common part): general.*,
    /// block count, context, embedding and feed-forward lengths, head count.
    static func commonKeys(_ arch: String, name: String, config: HFConfig, layers: Int, hidden: Int, heads: Int) -> [GGUFKeyValue]
    {
        var keys: [GGUFKeyValue] = []
        keys.add("general.architecture", .string(arch))
        keys.add("general.type", .string("model"))
        keys.add("general.name", .string(name))
        keys.add("\(arch).block_count", uint32: layers)
        keys.add("\(arch).context_length", uint32: config.int("max_position_embeddings"))
        keys.add("\(arch).embedding_length", uint32: hidden)
        keys.add("\(arch).feed_forward_length", uint32: config.int("intermediate_size"))
        keys.add("\(arch).attention.head_count", uint32: heads)
        return keys
    }

    /// The checkpoint's tensors that the GGUF keeps, with their llama.cpp names. `ggufName` gives a
    /// name, `.some(nil)` for a tensor llama.cpp drops, or nil for one it does not know, which is
    /// refused with `expected` (an example of the names the architecture has).
    static func renamed(
        _ tensors: [(name: String, shape: [Int])], architecture: String, expected: String, ggufName: (String) -> String??
    ) throws -> [(tensor: (name: String, shape: [Int]), ggufName: String)] {
        try tensors.compactMap { tensor in
            guard let mapped = ggufName(tensor.name) else {
                throw ConversionError(
                    .unexpectedTensor,
                    "tensor '\(tensor.name)' is not part of \(architecture) as llama.cpp knows it (expected \(expected) and the like)"
                )
            }
            return mapped.map { (tensor, $0) }
        }
    }

    /// convert_hf_to_gguf.py's storage rule: 1-D tensors, norms and everything not named `.weight`
    /// (biases) are F32.
    static func keepsF32(_ ggufName: String, rank: Int) -> Bool {
        rank <= 1 || ggufName.hasSuffix("_norm.weight") || !ggufName.hasSuffix(".weight")
    }
}

extension Array where Element == GGUFKeyValue {
    mutating func add(_ key: String, _ value: GGUFValue) { append(GGUFKeyValue(key, value)) }
    mutating func add(_ key: String, uint32 value: Int?) {
        if let value, let exact = UInt32(exactly: value) { add(key, .uint32(exact)) }
    }
    mutating func add(_ key: String, float32 value: Double?) {
        if let value { add(key, .float32(Float(value))) }
    }
}
