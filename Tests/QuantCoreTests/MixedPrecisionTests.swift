import Foundation
import ModelFormats
import QuantTesting
import Testing

@testable import QuantCore

@Suite("Automatic mixed precision")
struct MixedPrecisionTests {
    /// The Lagrangian choice is never beaten: no combination that fits in the same bits has less
    /// error (checked by brute force on random small instances), and it meets the budget.
    @Test func lagrangianChoiceIsOnTheHull() {
        var rng = SplitMix64(seed: 4)
        for trial in 0..<40 {
            let tensors = 5
            let candidates = 3
            let table: [[MixedPrecision.Option]] = (0..<tensors).map { _ in
                (0..<candidates).map { c in
                    let bits = Double(2 + 3 * c) * Double(1 + rng.next() % 4) * 100
                    return MixedPrecision.Option(
                        candidate: c, bits: bits, weightedError: Double(rng.next() % 1000 + 1) / Double(1 << (3 * c)), sqnrDB: 0)
                }
            }
            let cheapest = table.reduce(0) { $0 + $1.map(\.bits).min()! }
            let richest = table.reduce(0) { $0 + $1.map(\.bits).max()! }
            let budget = cheapest + (richest - cheapest) * Double(rng.next() % 100) / 100
            guard let (picked, _) = MixedPrecision.solve(table, budget: budget) else {
                Issue.record("trial \(trial): no solution")
                continue
            }
            let usedBits = picked.reduce(0) { $0 + $1.bits }
            let usedError = picked.reduce(0) { $0 + $1.weightedError }
            #expect(usedBits <= budget)
            // Every combination (3^5) that fits in `usedBits` has at least this error.
            for code in 0..<Int(pow(Double(candidates), Double(tensors))) {
                var rest = code
                var bits = 0.0
                var error = 0.0
                for t in 0..<tensors {
                    let option = table[t][rest % candidates]
                    rest /= candidates
                    bits += option.bits
                    error += option.weightedError
                }
                if bits <= usedBits { #expect(error >= usedError - 1e-9, "trial \(trial)") }
            }
        }
        #expect(
            MixedPrecision.solve([[MixedPrecision.Option(candidate: 0, bits: 10, weightedError: 1, sqnrDB: 0)]], budget: 5) == nil
        )
    }

    @Test func pipelineFollowsTheBudget() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mp-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("m.safetensors").path
        var rng = SplitMix64(seed: 2)
        let specs = (0..<4).map { TensorSpec(name: "l\($0).weight", dtype: .f32, shape: [64, 256]) }
        let writer = try SafetensorsWriter(path: input, tensors: specs)
        for (i, _) in specs.enumerated() {
            try writer.write(
                try FloatCodec.fromFloat32(
                    .f32, (0..<(64 * 256)).map { _ in Float(Int(rng.next() % 2001) - 1000) / Float(100 * (i + 1)) }))
        }
        try writer.finish()
        for (budget, expectInt8) in [(4.5, false), (9.0, true)] {
            let recipe = try Recipe.parse(
                #"{"preset": "auto", "mixed_precision": {"candidates": ["int8", "int4-g128-mse", "int3-g64-mse"], "max_bits_per_weight": \#(budget)}}"#
            )
            let report = try Pipeline.run(
                input: input, output: directory.appendingPathComponent("o-\(budget).safetensors").path, recipe: recipe)
            let used = report.tensors.reduce(0) { $0 + $1.bytesOut } * 8
            #expect(Double(used) <= budget * Double(4 * 64 * 256))
            #expect(report.tensors.allSatisfy { $0.scheme != nil })
            #expect(
                report.tensors.allSatisfy { ($0.scheme == "int8") == expectInt8 }, "\(report.tensors.map { $0.scheme ?? "-" })")
            #expect(report.json.objectValue?["summary"]?.objectValue?["mixed_precision"]?.objectValue?["bits_per_weight"] != nil)
        }
        let tooSmall = try Recipe.parse(
            #"{"preset": "auto", "mixed_precision": {"candidates": ["int8"], "max_bits_per_weight": 4}}"#)
        #expect(throws: PipelineError.self) {
            _ = try Pipeline.run(input: input, output: directory.appendingPathComponent("x").path, recipe: tooSmall)
        }
        #expect(throws: RecipeError.self) {
            _ = try Recipe.parse(#"{"mixed_precision": {"candidates": ["q4_0"], "max_bits_per_weight": 4}}"#)
        }
        #expect(throws: RecipeError.self) {
            _ = try Recipe.parse(#"{"mixed_precision": {"candidates": [], "max_bits_per_weight": 4}}"#)
        }
    }
}
