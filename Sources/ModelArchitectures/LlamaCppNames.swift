/// llama.cpp's tensor names for the Hugging Face names of Llama-family checkpoints (Llama, Mistral,
/// Qwen2/3, and the fused projections of Phi-3 for importance matrices), as convert_hf_to_gguf.py
/// maps them: `model.layers.3.mlp.down_proj.weight` is `blk.3.ffn_down.weight`.
public enum LlamaCppNames {
    /// Per-layer parts: Hugging Face module -> llama.cpp tensor.
    static let layerParts: [String: String] = [
        "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "self_attn.qkv_proj": "attn_qkv", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down", "mlp.gate_up_proj": "ffn_up",
    ]
    static let wholeModel: [String: String] = [
        "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    ]

    /// The llama.cpp name of a weight or bias, or nil for a name of another form.
    public static func ggufName(ofHuggingFace name: String) -> String? {
        if let whole = wholeModel[name] { return whole }
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let inner = name.dropFirst(prefix.count)
        guard let dot = inner.firstIndex(of: "."), let layer = Int(inner[..<dot]), layer >= 0 else { return nil }
        let rest = inner[inner.index(after: dot)...]
        for kind in [".weight", ".bias"] where rest.hasSuffix(kind) {
            if let part = layerParts[String(rest.dropLast(kind.count))] { return "blk.\(layer).\(part)\(kind)" }
        }
        return nil
    }
}
