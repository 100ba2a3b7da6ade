import Foundation
import ModelFormats

/// Automatic mixed precision: one candidate scheme per tensor, chosen to minimise the total
/// weighted error within the bit budget.
///
/// Every targeted tensor is quantized under every candidate (codes discarded, error measured). The
/// weight of an error is the tensor's share of the parameters times its normalised error
/// (MSE / mean square = 10^(-SQNR/10)). The choice is the Lagrangian relaxation of this
/// multiple-choice knapsack: for a multiplier lambda each tensor takes its candidate of least
/// error + lambda x bits, and lambda is bisected to the smallest value that meets the budget. Its
/// solutions are exactly the optimal points of the error-bits convex hull.
public enum MixedPrecision {
    public struct Choice: Sendable {
        public let tensor: String
        public let candidate: String
        public let bits: Int
        public let sqnrDB: Double
    }

    public struct Selection: Sendable {
        public let choices: [Choice]
        public let budgetBitsPerWeight: Double
        public let usedBitsPerWeight: Double
        public let lambda: Double

        public var json: JSONValue {
            .object(JSONObject([
                ("max_bits_per_weight", Report.number(budgetBitsPerWeight)),
                ("bits_per_weight", Report.number(usedBitsPerWeight)),
                ("lambda", Report.number(lambda)),
                ("choices", .object(JSONObject(choices.map { ($0.tensor, .string($0.candidate)) }))),
            ]))
        }
    }

    /// What one candidate costs and loses on one tensor.
    struct Option {
        let candidate: Int
        let bits: Double
        let weightedError: Double
        let sqnrDB: Double
    }

    static func select(_ source: SourceModel, recipe: Recipe, spec: MixedPrecisionSpec, options: PipelineOptions) throws -> Selection {
        let targeted = source.tensors.filter {
            recipe.quantizes(name: $0.name, isFloatingPoint: $0.floatDType != nil, rank: $0.shape.count)
        }
        let total = Double(targeted.reduce(0) { $0 + $1.elementCount })
        guard total > 0 else { return Selection(choices: [], budgetBitsPerWeight: spec.maxBitsPerWeight, usedBitsPerWeight: 0, lambda: 0) }
        let processor = TensorProcessor(source: source, kernels: options.kernels, threads: options.threads, chunkElements: options.chunkElements) { _ in
            if options.isCancelled?() == true { throw PipelineError.cancelled }
        }
        var table: [[Option]] = []
        for tensor in targeted {
            var row: [Option] = []
            for (index, candidate) in spec.candidates.enumerated() {
                let single = Recipe(
                    preset: nil, weights: candidate.spec, targets: recipe.targets, ignore: recipe.ignore, overrides: [], output: .safetensors,
                    nonFinite: recipe.nonFinite, json: .null)
                // A candidate that cannot take this tensor (rank, shape) is simply not an option.
                guard let plan = try? TensorPlan.make(tensor, recipe: single, output: .safetensors) else { continue }
                var fixedPoint: String?
                let metrics = try processor.process(plan, into: ArtifactWriter.discarding(), fixedPoint: &fixedPoint)
                let sqnr = metrics?.sqnrDB ?? .infinity
                let normalised = sqnr.isFinite ? pow(10, -sqnr / 10) : 0
                row.append(Option(
                    candidate: index, bits: Double(plan.outputs.reduce(0) { $0 + $1.byteCount } * 8),
                    weightedError: Double(tensor.elementCount) / total * normalised, sqnrDB: sqnr))
            }
            guard !row.isEmpty else {
                throw PipelineError.unsupported(tensor.name, "no mixed-precision candidate applies to it; add one that does or list it in \"ignore\"")
            }
            table.append(row)
        }
        let budget = spec.maxBitsPerWeight * total
        guard let (picked, lambda) = solve(table, budget: budget) else {
            let cheapest = table.reduce(0) { $0 + ($1.map(\.bits).min() ?? 0) }
            throw PipelineError.unsupported(
                "mixed_precision", String(format: "the smallest candidates already need %.3f bits per weight, above the budget of %.3f; raise max_bits_per_weight or add a smaller candidate", cheapest / total, spec.maxBitsPerWeight))
        }
        func bits(_ picked: [Option]) -> Double { picked.reduce(0) { $0 + $1.bits } }
        let choices = zip(targeted, picked).map { tensor, option in
            Choice(tensor: tensor.name, candidate: spec.candidates[option.candidate].name, bits: Int(option.bits), sqnrDB: option.sqnrDB)
        }
        return Selection(choices: choices, budgetBitsPerWeight: spec.maxBitsPerWeight, usedBitsPerWeight: bits(picked) / total, lambda: lambda)
    }

    /// The Lagrangian choice: per row the option of least error + lambda x bits (ties to fewer
    /// bits), with lambda the smallest (by bisection on its logarithm) that meets `budget`. Nil
    /// when even the cheapest options exceed the budget.
    static func solve(_ table: [[Option]], budget: Double) -> (picked: [Option], lambda: Double)? {
        func pick(_ lambda: Double) -> [Option] {
            table.map { row in row.min { ($0.weightedError + lambda * $0.bits, $0.bits) < ($1.weightedError + lambda * $1.bits, $1.bits) }! }
        }
        func bits(_ picked: [Option]) -> Double { picked.reduce(0) { $0 + $1.bits } }
        guard table.reduce(0, { $0 + ($1.map(\.bits).min() ?? 0) }) <= budget else { return nil }
        guard bits(pick(0)) > budget else { return (pick(0), 0) }
        // The bits used fall as lambda grows.
        var low = 1e-300, high = 1.0
        while bits(pick(high)) > budget { high *= 16 }
        for _ in 0..<200 {
            let mid = (low * high).squareRoot()
            if bits(pick(mid)) > budget { low = mid } else { high = mid }
        }
        return (pick(high), high)
    }

    /// The recipe with one exact-name override per tensor for its chosen candidate.
    static func resolve(_ recipe: Recipe, _ selection: Selection, _ spec: MixedPrecisionSpec) -> Recipe {
        let byName = Dictionary(uniqueKeysWithValues: spec.candidates.map { ($0.name, $0.spec) })
        let overrides = recipe.overrides + selection.choices.compactMap { choice in
            byName[choice.candidate].map { Recipe.Override(match: Glob(exactly: choice.tensor), weights: $0) }
        }
        var json = recipe.json.objectValue ?? JSONObject()
        json["mixed_precision"] = selection.json
        return Recipe(
            preset: recipe.preset, weights: recipe.weights, targets: recipe.targets, ignore: recipe.ignore, overrides: overrides,
            output: recipe.output, nonFinite: recipe.nonFinite, json: .object(json))
    }
}
