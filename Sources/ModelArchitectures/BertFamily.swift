import JSON
import ModelFormats

/// BERT encoders (`BertModel`, sentence-transformers models such as all-MiniLM-L6-v2): llama.cpp's
/// "bert" architecture with a WordPiece vocabulary and the pooling sentence-transformers declares.
struct BertFamily {
    static let supported = ["BertModel"]

    /// Hugging Face module -> llama.cpp tensor (gguf-py's tensor_mapping for BERT).
    static let wholeModel: [String: String] = [
        "embeddings.word_embeddings": "token_embd", "embeddings.position_embeddings": "position_embd",
        "embeddings.token_type_embeddings": "token_types", "embeddings.LayerNorm": "token_embd_norm",
    ]
    static let layerParts: [String: String] = [
        "attention.self.query": "attn_q", "attention.self.key": "attn_k", "attention.self.value": "attn_v",
        "attention.output.dense": "attn_output", "attention.output.LayerNorm": "attn_output_norm",
        "intermediate.dense": "ffn_up", "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm",
    ]
    /// Tensors llama.cpp's converter drops: the pretraining heads and a buffer.
    static func isDropped(_ name: String) -> Bool {
        name == "embeddings.position_ids" || name.hasPrefix("pooler.") || name.hasPrefix("cls.")
    }

    /// sentence-transformers pooling modes -> llama.cpp's pooling types (llama.h).
    static let poolingTypes: [String: UInt32] = [
        "pooling_mode_mean_tokens": 1, "pooling_mode_cls_token": 2, "pooling_mode_lasttoken": 3,
    ]

    let config: HFConfig

    init(_ config: HFConfig) { self.config = config }

    /// convert_hf_to_gguf.py's BertModel.filter_tensors and the name map.
    static func ggufName(_ name: String) -> String?? {
        var name = name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name
        if name.hasSuffix(".gamma") { name = String(name.dropLast(6)) + ".weight" }
        if name.hasSuffix(".beta") { name = String(name.dropLast(5)) + ".bias" }
        if isDropped(name) { return .some(nil) }
        for kind in [".weight", ".bias"] where name.hasSuffix(kind) {
            let module = String(name.dropLast(kind.count))
            if let whole = wholeModel[module] { return .some(whole + kind) }
            let prefix = "encoder.layer."
            guard module.hasPrefix(prefix) else { continue }
            let inner = module.dropFirst(prefix.count)
            guard let dot = inner.firstIndex(of: "."), let layer = Int(inner[..<dot]), layer >= 0,
                let part = layerParts[String(inner[inner.index(after: dot)...])]
            else { continue }
            return .some("blk.\(layer).\(part)\(kind)")
        }
        return nil
    }

    func conversion(name: String, tensors: [(name: String, shape: [Int])], sideFile: (String) throws -> JSONValue?) throws
        -> GGUFConversion
    {
        let layers = try config.required("num_hidden_layers")
        let heads = try config.required("num_attention_heads")
        let hidden = try config.required("hidden_size")
        var converted: [ConvertedTensor] = []
        let renamed = try GGUFConversion.renamed(
            tensors, architecture: "BertModel", expected: "encoder.layer.N.attention.self.query.weight", ggufName: Self.ggufName)
        for (tensor, ggufName) in renamed {
            // Position and token-type embeddings stay F32 in llama.cpp's converter too.
            let keepF32 =
                GGUFConversion.keepsF32(ggufName, rank: tensor.shape.count)
                || ggufName == "position_embd.weight" || ggufName == "token_types.weight"
            converted.append(
                ConvertedTensor(name: ggufName, origin: .checkpoint(tensor.name), permuteHeads: nil, keepF32: keepF32))
        }
        var keys = GGUFConversion.commonKeys("bert", name: name, config: config, layers: layers, hidden: hidden, heads: heads)
        keys.add("bert.attention.layer_norm_epsilon", float32: config.double("layer_norm_eps"))
        keys.add("bert.attention.causal", .bool(false))
        if let pooling = try poolingType(sideFile) { keys.add("bert.pooling_type", .uint32(pooling)) }
        keys += try GGUFVocabulary.wordPieceMetadata(sideFile: sideFile, config: config)
        return GGUFConversion(
            architecture: "bert", tensors: converted, metadata: keys, layerCount: layers, headCount: heads, headCountKV: heads)
    }

    /// TextModel._try_set_pooling_type: the Pooling module named in modules.json, read from its folder.
    func poolingType(_ sideFile: (String) throws -> JSONValue?) throws -> UInt32? {
        guard let modules = try sideFile("modules.json")?.arrayValue,
            let pooling = modules.compactMap(\.objectValue).first(where: { $0["type"]?.stringValue?.hasSuffix("Pooling") == true }
            ),
            let path = pooling["path"]?.stringValue
        else { return nil }
        guard let settings = try sideFile(path + "/config.json")?.objectValue else {
            throw ConversionError(
                .invalidConfig,
                "modules.json names a pooling module in '\(path)', but \(path)/config.json is missing: add it so the GGUF pools as sentence-transformers does"
            )
        }
        for (mode, type) in Self.poolingTypes.sorted(by: { $0.value < $1.value }) where settings[mode]?.boolValue == true {
            return type
        }
        let named = ["mean": UInt32(1), "cls": 2, "lasttoken": 3]
        if let mode = settings["pooling_mode"]?.stringValue, let type = named[mode] { return type }
        throw ConversionError(
            .invalidConfig,
            "\(path)/config.json: pooling \(settings.keys.joined(separator: ", ")) has no llama.cpp twin (mean, cls, last token)")
    }
}
