import Foundation
import JSON
import ModelFormats

/// Llama, Mistral, Qwen2 and Qwen3: decoders with RMSNorm, RoPE, grouped-query attention and a
/// SwiGLU feed-forward. llama.cpp's "llama" architecture keeps the query and key rows in an
/// interleaved rotary order, so the converter permutes them; Qwen's use the half-split order as
/// stored (llama.cpp's NEOX rope), with biases (Qwen2) or q/k norms (Qwen3).
struct DecoderFamily {
    static let supported = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"]

    let config: HFConfig
    let architecture: String
    let ggufArchitecture: String
    let permutesQK: Bool

    init(_ config: HFConfig, architecture: String) {
        self.config = config
        self.architecture = architecture
        switch architecture {
        case "Qwen2ForCausalLM": (ggufArchitecture, permutesQK) = ("qwen2", false)
        case "Qwen3ForCausalLM": (ggufArchitecture, permutesQK) = ("qwen3", false)
        default: (ggufArchitecture, permutesQK) = ("llama", true)
        }
    }

    /// llama.cpp's name for a Hugging Face tensor name of this family; nil for tensors the
    /// converter drops (rotary inverse frequencies, which llama.cpp computes itself).
    static func ggufName(_ name: String) -> String?? {
        if name.hasSuffix(".rotary_emb.inv_freq") { return .some(nil) }
        // fused: not these architectures
        if name.hasSuffix(".qkv_proj.weight") || name.hasSuffix(".gate_up_proj.weight") { return nil }
        return LlamaCppNames.ggufName(ofHuggingFace: name).map { .some($0) }
    }

    func conversion(
        name: String, tensors: [(name: String, shape: [Int])], sideFile: (String) throws -> JSONValue?,
        sideBytes: (String) throws -> [UInt8]?
    ) throws -> GGUFConversion {
        let layers = try config.required("num_hidden_layers")
        let heads = try config.required("num_attention_heads")
        let kvHeads = config.int("num_key_value_heads") ?? heads
        let hidden = try config.required("hidden_size")
        guard kvHeads > 0, heads % kvHeads == 0 else {
            throw ConversionError(
                .invalidConfig,
                "config.json: num_attention_heads (\(heads)) must be a multiple of num_key_value_heads (\(kvHeads))")
        }
        let headDim = config.int("head_dim") ?? hidden / heads
        var converted: [ConvertedTensor] = []
        if let ropeFactors = try llama3RopeFactors(headDim: headDim) {
            converted.append(
                ConvertedTensor(name: "rope_freqs.weight", origin: .generated(ropeFactors), permuteHeads: nil, keepF32: true))
        }
        let renamed = try GGUFConversion.renamed(
            tensors, architecture: architecture, expected: "model.layers.N.self_attn.q_proj.weight", ggufName: Self.ggufName)
        for (tensor, ggufName) in renamed {
            var permute: Int? = nil
            if permutesQK && (tensor.name.contains(".self_attn.q_proj.") || tensor.name.contains(".self_attn.k_proj.")) {
                let groups = tensor.name.contains(".q_proj.") ? heads : kvHeads
                guard let rows = tensor.shape.first, rows % (2 * groups) == 0 else {
                    throw ConversionError(
                        .unexpectedTensor,
                        "tensor '\(tensor.name)' has shape \(tensor.shape): its rows must be \(groups) heads of an even size")
                }
                permute = groups
            }
            converted.append(
                ConvertedTensor(
                    name: ggufName, origin: .checkpoint(tensor.name), permuteHeads: permute,
                    keepF32: GGUFConversion.keepsF32(ggufName, rank: tensor.shape.count)))
        }
        // As convert_hf_to_gguf.py: a SentencePiece tokenizer.model first, else byte-level BPE.
        let vocabulary =
            try sideBytes("tokenizer.model").map {
                try GGUFVocabulary.sentencePieceMetadata($0, sideFile: sideFile, config: config)
            }
            ?? GGUFVocabulary.bytePairMetadata(sideFile: sideFile, config: config)
        let metadata =
            try hyperParameters(name: name, layers: layers, heads: heads, kvHeads: kvHeads, hidden: hidden, headDim: headDim)
            + vocabulary
        return GGUFConversion(
            architecture: ggufArchitecture, tensors: converted, metadata: metadata, layerCount: layers, headCount: heads,
            headCountKV: kvHeads)
    }

    /// TextModel.set_gguf_parameters (and LlamaModel's additions) of convert_hf_to_gguf.py.
    func hyperParameters(name: String, layers: Int, heads: Int, kvHeads: Int, hidden: Int, headDim: Int) throws -> [GGUFKeyValue]
    {
        let arch = ggufArchitecture
        var keys = GGUFConversion.commonKeys(arch, name: name, config: config, layers: layers, hidden: hidden, heads: heads)
        keys.add("\(arch).attention.head_count_kv", uint32: config.int("num_key_value_heads"))
        let rope = config.ropeParameters
        switch rope["rope_type"]?.stringValue?.lowercased() {
        case "linear"?:
            keys.add("\(arch).rope.scaling.type", .string("linear"))
            keys.add("\(arch).rope.scaling.factor", float32: rope["factor"]?.doubleValue)
        case "yarn"?:
            keys.add("\(arch).rope.scaling.type", .string("yarn"))
            keys.add("\(arch).rope.scaling.factor", float32: rope["factor"]?.doubleValue)
            keys.add("\(arch).rope.scaling.original_context_length", uint32: rope["original_max_position_embeddings"]?.intValue)
        case nil, "default"?, "llama3"?: break  // llama3: the rope_freqs tensor
        case let other?:
            throw ConversionError(
                .invalidConfig, "config.json: rope scaling '\(other)' is not converted here (supported: linear, yarn, llama3)")
        }
        keys.add("\(arch).rope.freq_base", float32: rope["rope_theta"]?.doubleValue)
        keys.add("\(arch).attention.layer_norm_rms_epsilon", float32: config.double("rms_norm_eps"))
        if let explicit = config.int("head_dim") {
            keys.add("\(arch).attention.key_length", uint32: explicit)
            keys.add("\(arch).attention.value_length", uint32: explicit)
        }
        if arch == "llama" {
            keys.add("\(arch).vocab_size", uint32: config.int("vocab_size"))
            keys.add("\(arch).rope.dimension_count", uint32: headDim)
        }
        return keys
    }

    /// LlamaModel.generate_extra_tensors: llama3 RoPE scaling as one factor per frequency pair.
    func llama3RopeFactors(headDim: Int) throws -> [Float]? {
        let rope = config.ropeParameters
        guard rope["rope_type"]?.stringValue?.lowercased() == "llama3" else { return nil }
        let base = rope["rope_theta"]?.doubleValue ?? 10000
        let factor = rope["factor"]?.doubleValue ?? 8
        let lowFactor = rope["low_freq_factor"]?.doubleValue ?? 1
        let highFactor = rope["high_freq_factor"]?.doubleValue ?? 4
        let oldContext = Double(rope["original_max_position_embeddings"]?.intValue ?? 8192)
        let lowWavelength = oldContext / lowFactor
        let highWavelength = oldContext / highFactor
        // torch computes in float32, Python scalars cast to it; the comparisons are exact either way.
        return stride(from: 0, to: headDim, by: 2).map { i -> Float in
            let frequency = 1 / powf(Float(base), Float(i) / Float(headDim))
            let wavelength = Float(2 * Double.pi) / frequency
            if Double(wavelength) < highWavelength { return 1 }
            if Double(wavelength) > lowWavelength { return Float(factor) }
            let smooth = (Float(oldContext) / wavelength - Float(lowFactor)) / Float(highFactor - lowFactor)
            return 1 / ((1 - smooth) / Float(factor) + smooth)
        }
    }
}
