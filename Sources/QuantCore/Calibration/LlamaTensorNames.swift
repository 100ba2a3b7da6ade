/// llama.cpp's tensor names for the Hugging Face names of Llama-family checkpoints (Llama, Mistral,
/// Qwen2, Gemma, Phi-3 and their kin): what an importance matrix computed by llama.cpp calls the
/// weights of a safetensors model (`model.layers.3.mlp.down_proj.weight` is `blk.3.ffn_down.weight`),
/// as llama.cpp's convert_hf_to_gguf.py maps them.
enum LlamaTensorNames {
    static let layerParts: [String: String] = [
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "self_attn.qkv_proj": "attn_qkv",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down", "mlp.gate_up_proj": "ffn_up",
    ]
    static let wholeModel: [String: String] = ["model.embed_tokens.weight": "token_embd.weight", "lm_head.weight": "output.weight"]

    /// The llama.cpp name of a weight, or nil for a name of another form.
    static func ggufName(ofHuggingFace name: String) -> String? {
        if let whole = wholeModel[name] { return whole }
        let prefix = "model.layers.", suffix = ".weight"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let inner = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard let dot = inner.firstIndex(of: "."), let layer = Int(inner[..<dot]), layer >= 0,
              let part = layerParts[String(inner[inner.index(after: dot)...])] else { return nil }
        return "blk.\(layer).\(part).weight"
    }
}
