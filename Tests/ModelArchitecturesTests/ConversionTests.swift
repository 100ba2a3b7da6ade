import JSON
import ModelFormats
import Testing

@testable import ModelArchitectures

/// The conversion's rules, each checked against what convert_hf_to_gguf.py does (the llama.cpp
/// interop tests run the result for real).
@Suite("Hugging Face -> GGUF conversion")
struct ConversionTests {
    static let config =
        #"{"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 16, "vocab_size": 6, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "max_position_embeddings": 32}"#
    static let llamaTensors: [(name: String, shape: [Int])] = [
        ("model.embed_tokens.weight", [6, 8]), ("model.layers.0.input_layernorm.weight", [8]),
        ("model.layers.0.self_attn.q_proj.weight", [8, 8]), ("model.layers.0.self_attn.k_proj.weight", [4, 8]),
        ("model.layers.0.self_attn.v_proj.weight", [4, 8]), ("model.layers.0.self_attn.o_proj.weight", [8, 8]),
        ("model.layers.0.self_attn.rotary_emb.inv_freq", [2]), ("model.norm.weight", [8]),
    ]
    static let tokenizer = #"""
        {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b", ["Ġ", "a b"]]},
         "added_tokens": [{"id": 4, "content": "<|bos|>", "special": true}, {"id": 5, "content": "<tool>", "special": false}],
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
         "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|bos|>"}}, {"Sequence": {"id": "A"}}]}}
        """#

    func convert(config: String = config, tensors: [(name: String, shape: [Int])] = llamaTensors, files: [String: String] = [:])
        throws -> GGUFConversion
    {
        let side = [
            "tokenizer.json": Self.tokenizer, "tokenizer_config.json": #"{"bos_token": "<|bos|>", "chat_template": "{{x}}"}"#,
        ].merging(files) { $1 }
        return try GGUFConversion.make(
            config: try StrictJSON.parse(config).objectValue, name: "tiny", tensors: tensors,
            sideFile: { name in try side[name].map { try StrictJSON.parse($0) } })
    }

    func value(_ conversion: GGUFConversion, _ key: String) -> GGUFValue? { conversion.metadata.first { $0.key == key }?.value }

    @Test func llamaNamesLayoutsAndStorage() throws {
        let conversion = try convert()
        #expect(conversion.architecture == "llama")
        #expect(
            conversion.tensors.map(\.name) == [
                "token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                "blk.0.attn_v.weight",
                "blk.0.attn_output.weight", "output_norm.weight",
            ])
        #expect(conversion.tensors.map(\.permuteHeads) == [nil, nil, 2, 1, nil, nil, nil])
        #expect(conversion.tensors.map(\.keepF32) == [false, true, false, false, false, false, true])
        #expect(value(conversion, "llama.rope.dimension_count") == .uint32(4))
        #expect(value(conversion, "llama.attention.head_count_kv") == .uint32(1))
        #expect(value(conversion, "llama.attention.layer_norm_rms_epsilon") == .float32(1e-5))
        #expect(value(conversion, "general.name") == .string("tiny"))
    }

    @Test func qwenKeepsItsRowOrder() throws {
        let config = Self.config.replacingOccurrences(of: "LlamaForCausalLM", with: "Qwen2ForCausalLM")
        let conversion = try convert(config: config, tensors: Self.llamaTensors + [("model.layers.0.self_attn.q_proj.bias", [8])])
        #expect(conversion.architecture == "qwen2")
        #expect(conversion.tensors.allSatisfy { $0.permuteHeads == nil })
        #expect(conversion.tensors.first { $0.name == "blk.0.attn_q.bias" }?.keepF32 == true)
        #expect(value(conversion, "qwen2.rope.dimension_count") == nil)
    }

    @Test func byteLevelVocabulary() throws {
        let conversion = try convert()
        #expect(value(conversion, "tokenizer.ggml.model") == .string("gpt2"))
        #expect(value(conversion, "tokenizer.ggml.pre") == .string("gpt-2"))
        #expect(value(conversion, "tokenizer.ggml.tokens") == .array(.string(["a", "b", "ab", "Ġ", "<|bos|>", "<tool>"])))
        #expect(value(conversion, "tokenizer.ggml.token_type") == .array(.int32([1, 1, 1, 1, 3, 4])))
        // Pairs are joined; a space inside a part would be written as U+0120, as gguf-py does.
        #expect(value(conversion, "tokenizer.ggml.merges") == .array(.string(["a b", "Ġ a\u{120}b"])))
        #expect(value(conversion, "tokenizer.ggml.bos_token_id") == .uint32(4))
        #expect(value(conversion, "tokenizer.ggml.add_bos_token") == .bool(true))
        #expect(value(conversion, "tokenizer.chat_template") == .string("{{x}}"))
    }

    @Test func aVocabularyLargerThanTheTokenizerIsPadded() throws {
        let conversion = try convert(config: Self.config.replacingOccurrences(of: #""vocab_size": 6"#, with: #""vocab_size": 8"#))
        guard case .array(.string(let tokens))? = value(conversion, "tokenizer.ggml.tokens") else {
            Issue.record("no tokens")
            return
        }
        #expect(tokens.suffix(2) == ["[PAD6]", "[PAD7]"])
        #expect(value(conversion, "tokenizer.ggml.token_type") == .array(.int32([1, 1, 1, 1, 3, 4, 5, 5])))
    }

    @Test func llama3RopeScalingBecomesFactors() throws {
        let config = Self.config.replacingOccurrences(
            of: #""rope_theta": 10000.0"#,
            with:
                #""rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8}"#
        )
        let conversion = try convert(config: config)
        guard case .generated(let factors)? = conversion.tensors.first?.origin,
            conversion.tensors.first?.name == "rope_freqs.weight"
        else {
            Issue.record("no rope_freqs tensor first")
            return
        }
        // head_dim 4: frequencies 1 and 1/sqrt(500000). Wavelength 2*pi lies between 8/4 and 8/1 (blended);
        // ~4443 is above 8 (the full factor 8).
        let smooth = (8 / (2 * Double.pi) - 1) / 3
        #expect(factors.count == 2 && abs(Double(factors[0]) - 1 / ((1 - smooth) / 8 + smooth)) < 1e-5 && factors[1] == 8)
    }

    @Test func whatCannotConvertSaysSo() throws {
        let gemma = Self.config.replacingOccurrences(of: "LlamaForCausalLM", with: "GemmaForCausalLM")
        #expect { try convert(config: gemma) } throws: { error in
            let message = (error as? ConversionError)?.message ?? ""
            return message.contains("GemmaForCausalLM") && message.contains("Qwen3ForCausalLM")
        }
        #expect { try convert(tensors: Self.llamaTensors + [("vision_tower.patch.weight", [4, 4])]) } throws: { error in
            (error as? ConversionError)?.code == .unexpectedTensor
        }
        #expect { try convert(files: ["tokenizer.json": #"{"model": {"type": "WordPiece", "vocab": {}}}"#]) } throws: { error in
            (error as? ConversionError)?.code == .unsupportedTokenizer
        }
        let split =
            #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\s+"}}, {"type": "ByteLevel", "use_regex": false}]}"#
        let custom = Self.tokenizer.replacingOccurrences(
            of: #"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#, with: split)
        #expect { try convert(files: ["tokenizer.json": custom]) } throws: { error in
            ((error as? ConversionError)?.message ?? "").contains("llama-bpe")
        }
    }

    @Test func huggingFaceNamesMapToLlamaCppNames() {
        #expect(LlamaCppNames.ggufName(ofHuggingFace: "model.layers.12.self_attn.o_proj.weight") == "blk.12.attn_output.weight")
        #expect(LlamaCppNames.ggufName(ofHuggingFace: "model.layers.0.mlp.gate_proj.weight") == "blk.0.ffn_gate.weight")
        #expect(LlamaCppNames.ggufName(ofHuggingFace: "model.layers.0.self_attn.q_proj.bias") == "blk.0.attn_q.bias")
        #expect(LlamaCppNames.ggufName(ofHuggingFace: "model.embed_tokens.weight") == "token_embd.weight")
        #expect(LlamaCppNames.ggufName(ofHuggingFace: "model.layers.x.mlp.gate_proj.weight") == nil)
        #expect(LlamaCppNames.ggufName(ofHuggingFace: "encoder.layer.0.attention.self.query.weight") == nil)
    }
}

@Suite("BERT -> GGUF conversion")
struct BertConversionTests {
    @Test func bertNamesPoolingAndWordPieces() throws {
        let config =
            #"{"architectures": ["BertModel"], "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 6, "layer_norm_eps": 1e-12, "type_vocab_size": 2}"#
        let tokenizer = #"""
            {"model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "##s": 4, "world": 5}},
             "added_tokens": [{"id": 0, "content": "[PAD]", "special": true}, {"id": 1, "content": "[CLS]", "special": true}, {"id": 2, "content": "[SEP]", "special": true}]}
            """#
        let files = [
            "tokenizer.json": tokenizer,
            "tokenizer_config.json": #"{"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]"}"#,
            "modules.json":
                #"[{"type": "sentence_transformers.models.Transformer", "path": ""}, {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}]"#,
            "1_Pooling/config.json": #"{"pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true}"#,
        ]
        let tensors: [(name: String, shape: [Int])] = [
            ("embeddings.word_embeddings.weight", [6, 4]), ("embeddings.position_embeddings.weight", [8, 4]),
            ("embeddings.position_ids", [1, 8]), ("encoder.layer.0.attention.self.query.weight", [4, 4]),
            ("encoder.layer.0.attention.output.LayerNorm.bias", [4]), ("encoder.layer.0.output.dense.weight", [4, 8]),
            ("pooler.dense.weight", [4, 4]),
        ]
        let conversion = try GGUFConversion.make(
            config: try StrictJSON.parse(config).objectValue, name: "mini", tensors: tensors,
            sideFile: { name in try files[name].map { try StrictJSON.parse($0) } })
        #expect(conversion.architecture == "bert")
        #expect(
            conversion.tensors.map(\.name) == [
                "token_embd.weight", "position_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_output_norm.bias",
                "blk.0.ffn_down.weight",
            ])
        #expect(conversion.tensors.map(\.keepF32) == [false, true, false, true, false])
        let metadata = Dictionary(conversion.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(metadata["bert.pooling_type"] == .uint32(1))
        #expect(metadata["bert.attention.causal"] == .bool(false))
        #expect(
            metadata["tokenizer.ggml.tokens"]
                == .array(.string(["[PAD]", "[CLS]", "[SEP]", "\u{2581}hello", "s", "\u{2581}world"])))
        #expect(metadata["tokenizer.ggml.cls_token_id"] == .uint32(1))
        #expect(metadata["tokenizer.ggml.seperator_token_id"] == .uint32(2))
    }
}

@Suite("SentencePiece models")
struct SentencePieceModelTests {
    /// A two-piece BPE model written by hand in protobuf's wire format.
    static let model: [UInt8] = {
        func piece(_ text: String, score: Float, type: UInt8) -> [UInt8] {
            let body: [UInt8] =
                [0x0A, UInt8(text.utf8.count)] + Array(text.utf8) + [0x15]
                + withUnsafeBytes(of: score.bitPattern.littleEndian, Array.init) + [0x18, type]
            return [0x0A, UInt8(body.count)] + body
        }
        // trainer_spec.model_type = BPE
        return piece("<unk>", score: 0, type: 2) + piece("\u{2581}a", score: -1.5, type: 1) + [0x12, 0x02, 0x18, 0x02]
    }()

    @Test func piecesScoresAndTypes() throws {
        let model = try SentencePieceModel(Self.model)
        #expect(model.modelType == 2)
        #expect(model.pieces.map(\.text) == ["<unk>", "\u{2581}a"])
        #expect(model.pieces.map(\.score) == [0, -1.5])
        #expect(model.pieces.map(\.type) == [2, 1])
    }

    @Test func everyTruncationIsAnErrorNotACrash() {
        for length in 0..<Self.model.count - 1 {
            do { _ = try SentencePieceModel(Array(Self.model.prefix(length))) } catch { #expect(error is ConversionError) }
        }
        #expect(throws: ConversionError.self) {
            try SentencePieceModel([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        }
    }
}
