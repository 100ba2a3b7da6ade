import Foundation
import ModelFormats
import Testing

@testable import QuantCore

/// llama.cpp's K-quant mixes. The reference: llama.cpp's published bits per weight of each mix on
/// Llama-3.1-8B (tools/quantize/README.md), which depend only on the type each tensor gets.
@Suite struct KQuantMixTests {
    /// Llama-3.1-8B's tensors (names and numpy shapes), in GGUF or Hugging Face naming.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    static func llama31_8B(huggingFace: Bool) -> [(name: String, shape: [Int])] {
        let (vocab, hidden, kv, ffn) = (128_256, 4096, 1024, 14_336)
        var tensors: [(String, [Int])] =
            huggingFace
            ? [
                ("model.embed_tokens.weight", [vocab, hidden]), ("lm_head.weight", [vocab, hidden]),
                ("model.norm.weight", [hidden]),
            ]
            : [
                ("token_embd.weight", [vocab, hidden]), ("output.weight", [vocab, hidden]), ("output_norm.weight", [hidden]),
                ("rope_freqs.weight", [64]),
            ]
        for layer in 0..<32 {
            let names =
                huggingFace
                ? [
                    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
                    "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm",
                ]
                .map { "model.layers.\(layer).\($0).weight" }
                : ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "attn_norm", "ffn_norm"].map {
                    "blk.\(layer).\($0).weight"
                }
            let shapes = [
                [hidden, hidden], [kv, hidden], [kv, hidden], [hidden, hidden], [ffn, hidden], [ffn, hidden], [hidden, ffn],
                [hidden], [hidden],
            ]
            tensors += zip(names, shapes).map { ($0, $1) }
        }
        return tensors
    }

    /// Bits per weight of the whole model: the mix's types for matrices, F32 for the rest.
    static func bitsPerWeight(_ mix: KQuantMix, huggingFace: Bool) throws -> Double {
        let tensors = llama31_8B(huggingFace: huggingFace)
        let matrices = tensors.filter { $0.shape.count >= 2 }
        let types = mix.types(for: matrices, layerCount: nil)
        var bits = 0.0
        var weights = 0.0
        for tensor in tensors {
            let count = Double(tensor.shape.reduce(1, *))
            weights += count
            bits += count * (tensor.shape.count >= 2 ? try #require(types[tensor.name]).bitsPerWeight : 32)
        }
        return bits / weights
    }

    @Test(arguments: [
        (KQuantMix.q2_K, 3.1593), (.q2_K_S, 2.9697), (.q3_K_S, 3.6429), (.q3_K_L, 4.2979), (.q4_K_S, 4.6672), (.q4_K_M, 4.8944),
        (.q5_K_S, 5.5704), (.q5_K_M, 5.7036),
    ])
    func matchesLlamaCppOnLlama31_8B(_ mix: KQuantMix, _ published: Double) throws {
        for huggingFace in [false, true] {
            let measured = try Self.bitsPerWeight(mix, huggingFace: huggingFace)
            #expect(abs(measured - published) < 0.00005, "\(mix.rawValue) hf=\(huggingFace): \(measured) vs \(published)")
        }
    }

    /// Q2_K's value projections depend on grouped-query attention: 4+ query heads per KV head.
    @Test func q2KValueProjectionsFollowTheQueryGroups() throws {
        let tensors: [(name: String, shape: [Int])] = [
            ("blk.0.attn_q.weight", [1024, 256]), ("blk.0.attn_v.weight", [256, 256]),
        ]
        #expect(KQuantMix.q2_K.types(for: tensors, layerCount: 1)["blk.0.attn_v.weight"] == .q4_K)  // 4 from the shapes
        #expect(KQuantMix.q2_K.types(for: tensors, layerCount: 1, queryGroups: 1)["blk.0.attn_v.weight"] == .q3_K)
        #expect(throws: RecipeError.self) {
            try Recipe.parse(#"{"weights": {"method": "gguf", "mix": "Q2_K_S"}, "output": {"format": "gguf"}}"#)
        }
    }

    @Test func layersThatGetMoreBitsAreLlamaCpps() {
        let chosen = (0..<32).filter { KQuantMix.useMoreBits($0, 32) }
        #expect(chosen == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
    }

    @Test func tiedEmbeddingsTakeTheHeadsType() throws {
        let types = KQuantMix.q4_K_M.types(
            for: [("token_embd.weight", [512, 256]), ("blk.0.attn_q.weight", [256, 256])], layerCount: 1)
        #expect(types["token_embd.weight"] == .q6_K)
        #expect(types["blk.0.attn_q.weight"] == .q4_K)
    }

    /// Rows that are not whole super-blocks take llama.cpp's fallbacks.
    @Test func rowsOfOtherLengthsTakeLlamaCppsFallbacks() throws {
        let tensors: [(name: String, shape: [Int])] = [
            ("blk.0.attn_v.weight", [64, 320]), ("blk.0.attn_q.weight", [64, 320]), ("blk.0.ffn_up.weight", [64, 100]),
            ("output.weight", [64, 320]),
        ]
        let q4 = KQuantMix.q4_K_M.types(for: tensors, layerCount: 1)
        #expect(q4["blk.0.attn_v.weight"] == .q8_0)  // Q6_K -> Q8_0
        #expect(q4["blk.0.attn_q.weight"] == .q5_0)  // Q4_K -> Q5_0
        #expect(q4["blk.0.ffn_up.weight"] == .f16)  // not even blocks of 32
        #expect(q4["output.weight"] == .q8_0)
        #expect(KQuantMix.q5_K_S.types(for: tensors, layerCount: 1)["blk.0.attn_q.weight"] == .q5_1)
        #expect(KQuantMix.q3_K_M.types(for: tensors, layerCount: 1)["blk.0.attn_q.weight"] == .iq4_NL)
        #expect(KQuantMix.q2_K.types(for: tensors, layerCount: 1)["blk.0.ffn_up.weight"] == .f16)
    }

    /// End to end: a small GGUF-named model through `q4_k_m`, read back; a user override still wins.
    @Test func pipelineWritesTheMixAndItsFileType() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qs-mix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        var tensors: [(String, [Int], [Float])] = [
            ("token_embd.weight", [8, 256], PipelineTests.values(2048, seed: 1)),
            ("output.weight", [8, 256], PipelineTests.values(2048, seed: 2)),
        ]
        for layer in 0..<8 {
            for (index, name) in ["attn_q", "attn_v", "attn_output", "ffn_down"].enumerated() {
                tensors.append(
                    ("blk.\(layer).\(name).weight", [4, 256], PipelineTests.values(1024, seed: UInt64(10 * layer + index + 3))))
            }
            tensors.append(("blk.\(layer).attn_norm.weight", [256], PipelineTests.values(256, seed: UInt64(layer + 100))))
        }
        try writeModel(input, tensors)
        let output = dir.appendingPathComponent("o.gguf").path
        let recipe = try Recipe.parse(
            #"{"preset": "q4_k_m", "overrides": [{"match": "blk.1.attn_q.weight", "weights": {"type": "Q8_0"}}]}"#)
        let report = try Pipeline.run(input: input, output: output, recipe: recipe)
        let file = try GGUFFile(path: output)
        let types = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.type.name) })
        for layer in 0..<8 {
            let more = [0, 3, 6, 7].contains(layer)  // useMoreBits(layer, 8)
            #expect(types["blk.\(layer).attn_v.weight"] == (more ? "Q6_K" : "Q4_K"), "layer \(layer)")
            #expect(types["blk.\(layer).ffn_down.weight"] == (more ? "Q6_K" : "Q4_K"), "layer \(layer)")
            #expect(types["blk.\(layer).attn_output.weight"] == "Q4_K")
            #expect(types["blk.\(layer).attn_norm.weight"] == "F32")
        }
        #expect(types["blk.0.attn_q.weight"] == "Q4_K" && types["blk.1.attn_q.weight"] == "Q8_0")
        #expect(types["output.weight"] == "Q6_K" && types["token_embd.weight"] == "Q4_K")
        #expect(file.metadata.first { $0.key == "general.file_type" }?.value == .uint32(15))
        #expect(report.tensors.first { $0.name == "blk.0.attn_v.weight" }?.type == "Q6_K")
    }
}
