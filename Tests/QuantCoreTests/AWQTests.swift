import Foundation
import Int8Kernels
import JSON
import ModelFormats
import Testing

@testable import QuantCore

/// AWQ's pieces (docs/CALIBRATION.md): the groups of a decoder, the scale search on inputs with an
/// outlier channel, and the per-element scaling the pipeline folds them in with.
@Suite("AWQ")
struct AWQTests {
    static func spec(heads: Int, kvHeads: Int) throws -> DecoderSpec {
        let config = try #require(
            StrictJSON.parse(
                """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": \(heads),
                 "num_key_value_heads": \(kvHeads), "intermediate_size": 128}
                """
            ).objectValue)
        return try DecoderSpec(config: config)
    }

    @Test func groupsFollowAutoAWQ() throws {
        let all = try AWQ.decoderGroups(Self.spec(heads: 4, kvHeads: 4)) { _ in true }
        #expect(all.count == 8)
        #expect(
            all[0]
                == AWQ.Group(
                    members: [
                        "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                        "model.layers.0.self_attn.v_proj.weight",
                    ],
                    producers: ["model.layers.0.input_layernorm.weight"], inputLayer: "model.layers.0.self_attn.q_proj"))
        // v -> o carries v's bias when there is one; with grouped key/value heads it is left out.
        #expect(all[1].producers == ["model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.bias"])
        #expect(
            all[3]
                == AWQ.Group(
                    members: ["model.layers.0.mlp.down_proj.weight"], producers: ["model.layers.0.mlp.up_proj.weight"],
                    inputLayer: "model.layers.0.mlp.down_proj"))
        let grouped = try AWQ.decoderGroups(Self.spec(heads: 4, kvHeads: 2)) { !$0.hasSuffix(".bias") }
        #expect(grouped.count == 6)
        #expect(!grouped.contains { $0.members == ["model.layers.0.self_attn.o_proj.weight"] })
    }

    @Test func theSearchScalesTheOutlierChannelAndLowersTheOutputError() throws {
        var x = CalibrationTests.random(256, 128, seed: 11)
        for row in 0..<x.rows { x[row, 5] *= 30 }
        let w = CalibrationTests.random(48, 128, seed: 12)
        let scheme = try LinearScheme(bits: 4, symmetric: true, granularity: .group(size: 64))
        let roundTrip: (Matrix) throws -> Matrix = { w in
            let p = try w.values.withUnsafeBufferPointer {
                try LinearTensorEncoder.rowParameters(
                    $0, rows: w.rows, cols: w.cols, group: 64, scheme: scheme, scaleDType: .f32, kernels: .best, tensor: "t")
            }
            let grid = LinearGrid(scheme: scheme, cols: w.cols, group: 64, parameters: p)
            return grid.values(of: grid.codes(of: w), rows: w.rows)
        }
        let outcome = try AWQ.search(
            x: x, members: [AWQ.Member(name: "w", weight: w, roundTrip: roundTrip)], groupSize: 64, grid: 20, duoScaling: true)
        let scales = try #require(outcome.scales)
        #expect(scales.indices.max { scales[$0] < scales[$1] } == 5)
        #expect(outcome.after["w"]! > outcome.before["w"]! + 1, "\(outcome.before) -> \(outcome.after)")
        // An exact "quantizer" leaves nothing to gain: no scaling is chosen.
        let exact = try AWQ.search(
            x: x, members: [AWQ.Member(name: "w", weight: w, roundTrip: { $0 })], groupSize: 64, grid: 4, duoScaling: true)
        #expect(exact.scales == nil)
    }

    @Test func scalingMultipliesColumnsAndDividesRows() {
        var values: [Float] = [1, 2, 3, 4, 5, 6]
        let scaling = ElementScaling(columns: [1, 10, 100], rows: [1, 2])
        values.withUnsafeMutableBufferPointer { scaling.apply(to: $0, elements: 0..<6, shape: [2, 3]) }
        #expect(values == [1, 20, 300, 2, 25, 300])
        // A range of a tensor, and a 1-D tensor (a norm), whose elements are its rows.
        var part: [Float] = [5, 6]
        part.withUnsafeMutableBufferPointer { scaling.apply(to: $0, elements: 4..<6, shape: [2, 3]) }
        #expect(part == [25, 300])
        var norm: [Float] = [4, 4]
        norm.withUnsafeMutableBufferPointer {
            ElementScaling(columns: nil, rows: [2, 4]).apply(to: $0, elements: 0..<2, shape: [2])
        }
        #expect(norm == [2, 1])
    }
}
