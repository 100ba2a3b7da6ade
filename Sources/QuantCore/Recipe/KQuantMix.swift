import ModelFormats

/// llama.cpp's K-quant mixes (`llama-quantize ... Q4_K_M`): one base K-quant, with the tensors
/// that hurt most when squeezed (the attention value and output projections, the FFN down
/// projections of some layers, the output head) given more bits. The rules are those of
/// `llama_tensor_get_type` for dense, non-Falcon models; tensors are recognised by their GGUF
/// names (`blk.N.attn_v.weight`) or their Hugging Face names (`model.layers.N.self_attn.v_proj.weight`).
/// The cases keep llama.cpp's spelling (Q4_K_M).
// swift-format-ignore: AlwaysUseLowerCamelCase
public enum KQuantMix: String, Sendable, CaseIterable {
    /// llama.cpp's `Q2_K` ftype is itself a mix (the pure type is the `q2_k` preset).
    case q2_K = "Q2_K"
    case q2_K_S = "Q2_K_S"
    case q3_K_S = "Q3_K_S"
    case q3_K_M = "Q3_K_M"
    case q3_K_L = "Q3_K_L"
    case q4_K_S = "Q4_K_S"
    case q4_K_M = "Q4_K_M"
    case q5_K_S = "Q5_K_S"
    case q5_K_M = "Q5_K_M"

    /// The type of every tensor no rule promotes.
    public var base: GGMLType {
        switch self {
        case .q2_K, .q2_K_S: .q2_K
        case .q3_K_S, .q3_K_M, .q3_K_L: .q3_K
        case .q4_K_S, .q4_K_M: .q4_K
        case .q5_K_S, .q5_K_M: .q5_K
        }
    }

    /// llama.cpp's `llama_ftype` number, written to `general.file_type`.
    public var fileType: UInt32 {
        switch self {
        case .q2_K: 10
        case .q2_K_S: 21
        case .q3_K_S: 11
        case .q3_K_M: 12
        case .q3_K_L: 13
        case .q4_K_S: 14
        case .q4_K_M: 15
        case .q5_K_S: 16
        case .q5_K_M: 17
        }
    }

    /// What a tensor is to the rules.
    enum Role: Equatable {
        case output, tokenEmbedding, attentionValue, attentionOutput, fusedQKV, ffnDown, other
    }

    /// The tensor's role and layer from its name, in either naming.
    static func role(of name: String) -> (role: Role, layer: Int?) {
        let layer = layerIndex(name)
        if name == "output.weight" || name == "lm_head.weight" { return (.output, nil) }
        if name == "token_embd.weight" || name.hasSuffix("embed_tokens.weight") { return (.tokenEmbedding, nil) }
        if name.contains("attn_v.weight") || name.hasSuffix("self_attn.v_proj.weight") { return (.attentionValue, layer) }
        if name.contains("attn_output.weight") || name.hasSuffix("self_attn.o_proj.weight") { return (.attentionOutput, layer) }
        if name.contains("attn_qkv.weight") || name.hasSuffix("self_attn.qkv_proj.weight") { return (.fusedQKV, layer) }
        if name.contains("ffn_down") || name.hasSuffix("mlp.down_proj.weight") { return (.ffnDown, layer) }
        return (.other, layer)
    }

    /// N in `blk.N.` or `layers.N.`.
    static func layerIndex(_ name: String) -> Int? {
        let parts = name.split(separator: ".")
        for (index, part) in parts.enumerated() where (part == "blk" || part == "layers") && index + 1 < parts.count {
            if let layer = Int(parts[index + 1]) { return layer }
        }
        return nil
    }

    /// llama.cpp's choice of layers that get more bits: the first and last eighth, and every third
    /// in between.
    static func useMoreBits(_ layer: Int, _ count: Int) -> Bool {
        layer < count / 8 || layer >= 7 * count / 8 || (layer - count / 8) % 3 == 2
    }

    /// The type of each tensor in `tensors` (name, shape in numpy order). `layerCount` is the
    /// model's block count when known (GGUF `<arch>.block_count`); otherwise one more than the
    /// highest layer index. `queryGroups` is
    /// heads per key/value head (GGUF `head_count / head_count_kv`); otherwise the ratio of the first
    /// layer's query and value projection rows, or 1.
    public func types(
        for tensors: [(name: String, shape: [Int])], layerCount: Int?, queryGroups: Int? = nil
    ) -> [String: GGMLType] {
        let roles = tensors.map { Self.role(of: $0.name) }
        let layers = layerCount ?? ((roles.compactMap(\.layer).max() ?? -1) + 1)
        let groups = queryGroups ?? Self.queryGroups(tensors)
        let hasOutput = roles.contains { $0.role == .output }
        // llama.cpp counts the value projections (and fused QKV) and numbers them in layer order.
        let valueCount = roles.filter { $0.role == .attentionValue || $0.role == .fusedQKV }.count
        func order(_ role: Role) -> [String: Int] {
            let named = zip(tensors, roles).filter { $0.1.role == role }.sorted {
                ($0.1.layer ?? -1, $0.0.name) < ($1.1.layer ?? -1, $1.0.name)
            }
            return Dictionary(named.enumerated().map { ($1.0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        let valueOrder = order(.attentionValue)
        let downOrder = order(.ffnDown)
        var chosen: [String: GGMLType] = [:]
        for (tensor, info) in zip(tensors, roles) {
            var role = info.role
            if role == .tokenEmbedding && !hasOutput { role = .output }  // tied embeddings: the head's rule
            let type = pick(
                role, value: valueOrder[tensor.name].map { ($0, valueCount) }, down: downOrder[tensor.name].map { ($0, layers) },
                groups: groups)
            chosen[tensor.name] = fitted(type, tensor: tensor)
        }
        return chosen
    }

    /// Query heads per key/value head from the first layer's shapes: query rows over value rows.
    static func queryGroups(_ tensors: [(name: String, shape: [Int])]) -> Int {
        func rows(_ suffixes: [String]) -> Int? {
            tensors.filter { layerIndex($0.name) == 0 && suffixes.contains(where: $0.name.hasSuffix) }.first?.shape.first
        }
        guard let query = rows(["attn_q.weight", "self_attn.q_proj.weight"]),
            let value = rows(["attn_v.weight", "self_attn.v_proj.weight"]),
            value > 0
        else { return 1 }
        return Swift.max(1, query / value)
    }

    /// The rules of `llama_tensor_get_type` for this mix; `value` and `down` are (index, count).
    private func pick(_ role: Role, value: (Int, Int)?, down: (Int, Int)?, groups: Int) -> GGMLType {
        switch role {
        case .output:
            return .q6_K
        case .attentionValue:
            let (i, n) = value ?? (0, 1)
            switch self {
            case .q2_K: return groups >= 4 ? .q4_K : .q3_K
            case .q2_K_S: return groups >= 4 ? .q4_K : base
            case .q3_K_M: return i < 2 ? .q5_K : .q4_K
            case .q3_K_L: return .q5_K
            case .q4_K_M, .q5_K_M: return Self.useMoreBits(i, n) ? .q6_K : base
            case .q4_K_S: return i < 4 ? .q5_K : base
            default: return base
            }
        case .ffnDown:
            let (i, n) = down ?? (0, 1)
            switch self {
            case .q2_K: return .q3_K
            case .q2_K_S: return i < n / 8 ? .q4_K : base
            case .q3_K_M: return i < n / 16 ? .q5_K : .q4_K
            case .q3_K_L: return .q5_K
            case .q4_K_M, .q5_K_M: return Self.useMoreBits(i, n) ? .q6_K : base
            case .q4_K_S: return i < n / 8 ? .q5_K : base
            default: return base
            }
        case .attentionOutput:
            switch self {
            case .q2_K: return .q3_K
            case .q3_K_M: return .q4_K
            case .q3_K_L: return .q5_K
            default: return base
            }
        case .fusedQKV:
            switch self {
            case .q3_K_M, .q3_K_L: return .q4_K
            case .q4_K_M: return .q5_K
            case .q5_K_M: return .q6_K
            default: return base
            }
        case .tokenEmbedding, .other:
            return base
        }
    }

    /// llama.cpp's fallback for rows that are not whole super-blocks of 256: Q2_K, Q3_K -> IQ4_NL,
    /// Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (the output head: Q8_0 directly), then F16 when not
    /// even blocks of 32 fit.
    private func fitted(_ type: GGMLType, tensor: (name: String, shape: [Int])) -> GGMLType {
        let cols = tensor.shape.last ?? 1
        guard cols % 256 != 0 else { return type }
        let fallback: GGMLType
        switch type {
        case .q2_K, .q3_K: fallback = .iq4_NL
        case .q4_K: fallback = .q5_0
        case .q5_K: fallback = .q5_1
        case .q6_K: fallback = .q8_0
        default: return type
        }
        return cols % 32 == 0 ? fallback : .f16
    }
}
