import Foundation
import JSON
import ModelArchitectures
import ModelFormats

/// What the reference forward pass needs to know of a decoder (Llama, Mistral, Qwen2, Qwen3):
/// sizes, norm epsilon, rotary frequencies and layout, and where each weight is, read from a
/// checkpoint's config.json (Hugging Face names) or a GGUF's metadata (llama.cpp names).
public struct DecoderSpec: Sendable {
    public enum Part: Sendable {
        case attentionNorm, query, key, value, output, queryBias, keyBias, valueBias, queryNorm, keyNorm, ffnNorm, gate, up, down
    }

    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var epsilon: Float
    /// One inverse frequency per rotated pair, scaling (llama3) applied.
    public var ropeFrequencies: [Float]
    /// Pairs (2i, 2i+1), llama.cpp's layout for "llama" GGUFs; otherwise (i, i + d/2), the stored
    /// Hugging Face layout (rotate_half).
    public var interleavedRope: Bool
    let layerName: @Sendable (Int, Part) -> String
    let embeddingName: String
    let finalNormName: String
    let headName: String

    public func name(layer: Int, _ part: Part) -> String { layerName(layer, part) }

    /// From a checkpoint's config.json (LlamaForCausalLM, MistralForCausalLM, Qwen2/Qwen3ForCausalLM).
    public init(config object: JSONObject) throws {
        let config = HFConfig(object)
        guard let architecture = config.architecture,
            ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"].contains(architecture)
        else {
            throw EvaluationError(
                "the reference forward pass runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM, not \(config.architecture ?? "(no architecture)")"
            )
        }
        hidden = try config.required("hidden_size")
        layers = try config.required("num_hidden_layers")
        heads = try config.required("num_attention_heads")
        kvHeads = config.int("num_key_value_heads") ?? heads
        headDim = config.int("head_dim") ?? hidden / heads
        epsilon = Float(config.double("rms_norm_eps") ?? 1e-6)
        interleavedRope = false
        let rope = config.ropeParameters
        ropeFrequencies = Self.frequencies(
            base: rope["rope_theta"]?.doubleValue ?? 10000, dimension: headDim,
            llama3: rope["rope_type"]?.stringValue == "llama3" ? rope : nil)
        let parts: [Part: String] = [
            .attentionNorm: "input_layernorm.weight", .query: "self_attn.q_proj.weight", .key: "self_attn.k_proj.weight",
            .value: "self_attn.v_proj.weight",
            .output: "self_attn.o_proj.weight", .queryBias: "self_attn.q_proj.bias", .keyBias: "self_attn.k_proj.bias",
            .valueBias: "self_attn.v_proj.bias",
            .queryNorm: "self_attn.q_norm.weight", .keyNorm: "self_attn.k_norm.weight",
            .ffnNorm: "post_attention_layernorm.weight",
            .gate: "mlp.gate_proj.weight", .up: "mlp.up_proj.weight", .down: "mlp.down_proj.weight",
        ]
        layerName = { layer, part in "model.layers.\(layer).\(parts[part]!)" }
        embeddingName = "model.embed_tokens.weight"
        finalNormName = "model.norm.weight"
        headName = "lm_head.weight"
    }

    /// From a GGUF's metadata (llama, qwen2, qwen3); `ropeFactors` is its rope_freqs tensor, if any.
    public init(gguf metadata: [GGUFKeyValue], ropeFactors: [Float]?) throws {
        func value(_ key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }
        guard case .string(let arch)? = value("general.architecture"), ["llama", "qwen2", "qwen3"].contains(arch) else {
            throw EvaluationError("the reference forward pass runs GGUFs of architecture llama, qwen2 and qwen3")
        }
        func integer(_ key: String) -> Int? {
            switch value("\(arch).\(key)") {
            case .uint32(let v)?: Int(v)
            case .int32(let v)?: Int(v)
            case .uint64(let v)?: Int(v)
            default: nil
            }
        }
        func float(_ key: String) -> Float? {
            if case .float32(let v)? = value("\(arch).\(key)") { return v }
            return nil
        }
        guard let hidden = integer("embedding_length"), let layers = integer("block_count"),
            let heads = integer("attention.head_count")
        else {
            throw EvaluationError("the GGUF lacks \(arch).embedding_length, block_count or attention.head_count")
        }
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        kvHeads = integer("attention.head_count_kv") ?? heads
        headDim = integer("attention.key_length") ?? integer("rope.dimension_count") ?? hidden / heads
        epsilon = float("attention.layer_norm_rms_epsilon") ?? 1e-6
        interleavedRope = arch == "llama"
        let base = Double(float("rope.freq_base") ?? 10000)
        var frequencies = Self.frequencies(base: base, dimension: headDim, llama3: nil)
        if let ropeFactors, ropeFactors.count == frequencies.count {
            frequencies = zip(frequencies, ropeFactors).map { $0 / $1 }
        }
        ropeFrequencies = frequencies
        let parts: [Part: String] = [
            .attentionNorm: "attn_norm.weight", .query: "attn_q.weight", .key: "attn_k.weight", .value: "attn_v.weight",
            .output: "attn_output.weight",
            .queryBias: "attn_q.bias", .keyBias: "attn_k.bias", .valueBias: "attn_v.bias", .queryNorm: "attn_q_norm.weight",
            .keyNorm: "attn_k_norm.weight",
            .ffnNorm: "ffn_norm.weight", .gate: "ffn_gate.weight", .up: "ffn_up.weight", .down: "ffn_down.weight",
        ]
        layerName = { layer, part in "blk.\(layer).\(parts[part]!)" }
        embeddingName = "token_embd.weight"
        finalNormName = "output_norm.weight"
        headName = "output.weight"
    }

    /// base^(-2i/d) per pair; with llama3 scaling, transformers' _compute_llama3_parameters.
    static func frequencies(base: Double, dimension: Int, llama3: JSONObject?) -> [Float] {
        let inverse = stride(from: 0, to: dimension, by: 2).map { 1 / pow(base, Double($0) / Double(dimension)) }
        guard let llama3 else { return inverse.map(Float.init) }
        let factor = llama3["factor"]?.doubleValue ?? 8
        let low = llama3["low_freq_factor"]?.doubleValue ?? 1
        let high = llama3["high_freq_factor"]?.doubleValue ?? 4
        let old = Double(llama3["original_max_position_embeddings"]?.intValue ?? 8192)
        return inverse.map { frequency in
            let wavelength = 2 * Double.pi / frequency
            if wavelength < old / high { return Float(frequency) }
            if wavelength > old / low { return Float(frequency / factor) }
            let smooth = (old / wavelength - low) / (high - low)
            return Float((1 - smooth) * frequency / factor + smooth * frequency)
        }
    }
}

/// Why a model cannot be evaluated: says what is missing.
public struct EvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension DecoderForward {
    /// The forward pass of a checkpoint folder or a GGUF (original or quantized by us or llama.cpp).
    public static func open(_ path: String) throws -> DecoderForward {
        let weights = try Dequantizer.Tensors(path: path)
        if let config = weights.config { return DecoderForward(spec: try DecoderSpec(config: config), weights: weights) }
        let metadata = weights.ggufMetadata
        guard !metadata.isEmpty else {
            throw EvaluationError("\(path): evaluation reads a checkpoint folder (with config.json) or a GGUF")
        }
        return DecoderForward(
            spec: try DecoderSpec(gguf: metadata, ropeFactors: try weights.values("rope_freqs.weight")?.values), weights: weights)
    }
}
