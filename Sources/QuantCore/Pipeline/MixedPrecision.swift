import Foundation
import JSON
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
///
/// With a calibration dataset, a layer with samples is ranked by its *output* error instead: each
/// candidate's artifact of that tensor is written to a scratch file, dequantized, and X·Ŵᵀ compared
/// with X·Wᵀ on the layer's inputs (the output SQNR takes the place of the weight SQNR). Tensors
/// without samples keep the weight error.
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
        /// Tensors ranked by output error on calibration inputs (the others by weight error).
        public var outputErrorTensors: [String] = []

        public var json: JSONValue {
            .object(
                JSONObject([
                    ("max_bits_per_weight", Report.number(budgetBitsPerWeight)),
                    ("bits_per_weight", Report.number(usedBitsPerWeight)),
                    ("lambda", Report.number(lambda)),
                    ("sensitivity", .string(outputErrorTensors.isEmpty ? "weight_error" : "output_error")),
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

    static func select(_ source: SourceModel, recipe: Recipe, spec: MixedPrecisionSpec, options: PipelineOptions, scratch: String)
        throws -> Selection
    {
        let targeted = source.tensors.filter {
            recipe.quantizes(name: $0.name, isFloatingPoint: $0.floatDType != nil, rank: $0.shape.count)
        }
        let total = Double(targeted.reduce(0) { $0 + $1.elementCount })
        guard total > 0 else {
            return Selection(choices: [], budgetBitsPerWeight: spec.maxBitsPerWeight, usedBitsPerWeight: 0, lambda: 0)
        }
        let processor = TensorProcessor(
            source: source, kernels: options.kernels, threads: options.threads, chunkElements: options.chunkElements
        ) { _ in
            if options.isCancelled?() == true { throw PipelineError.cancelled }
        }
        // An importance matrix has no samples to rank layers by output error: weight error ranks them.
        let samples = options.calibrationDataset.flatMap { ImportanceMatrix.recognizes(path: $0) ? nil : $0 }
        let dataset = try samples.map { try CalibrationDataset(path: $0) }
        if let dataset { try dataset.check(against: source) }
        var outputErrorTensors: [String] = []
        var table: [[Option]] = []
        for tensor in targeted {
            var row: [Option] = []
            // The layer's inputs and weights, when it is ranked by output error.
            var layer: (x: Matrix, w: Matrix, reference: Matrix)?
            if let dataset, let name = dataset.layer(ofWeight: tensor.name), tensor.shape.count == 2 {
                let x = try dataset.inputs(of: name, kernels: options.kernels)
                let w = try CalibratedLinearEncoder.readWeights(
                    tensor, rows: tensor.shape[0], cols: tensor.shape[1], processor: processor, reportProgress: false)
                layer = (x, w, BLAS.multiplyTransposed(x, w))
                outputErrorTensors.append(tensor.name)
            }
            for (index, candidate) in spec.candidates.enumerated() {
                let single = Recipe(
                    preset: nil, weights: candidate.spec, targets: recipe.targets, ignore: recipe.ignore, overrides: [],
                    output: .safetensors,
                    nonFinite: recipe.nonFinite, json: .null)
                // A candidate that cannot take this tensor (rank, shape) is simply not an option.
                guard let plan = try? TensorPlan.make(tensor, recipe: single, output: .safetensors) else { continue }
                let sqnr: Double
                if let layer {
                    sqnr = try outputSQNR(
                        plan, recipe: single, source: source, processor: processor, layer: layer, scratch: scratch)
                } else {
                    var fixedPoint: String?
                    sqnr =
                        try processor.process(plan, into: ArtifactWriter.discarding(), fixedPoint: &fixedPoint)?.sqnrDB
                        ?? .infinity
                }
                let normalised = sqnr.isFinite ? pow(10, -sqnr / 10) : 0
                row.append(
                    Option(
                        candidate: index, bits: Double(plan.outputs.reduce(0) { $0 + $1.byteCount } * 8),
                        weightedError: Double(tensor.elementCount) / total * normalised, sqnrDB: sqnr))
            }
            guard !row.isEmpty else {
                throw PipelineError.unsupported(
                    tensor.name, "no mixed-precision candidate applies to it; add one that does or list it in \"ignore\"")
            }
            table.append(row)
        }
        let budget = spec.maxBitsPerWeight * total
        guard let (picked, lambda) = solve(table, budget: budget) else {
            let cheapest = table.reduce(0) { $0 + ($1.map(\.bits).min() ?? 0) }
            throw PipelineError.unsupported(
                "mixed_precision",
                String(
                    format:
                        "the smallest candidates already need %.3f bits per weight, above the budget of %.3f; raise max_bits_per_weight or add a smaller candidate",
                    cheapest / total, spec.maxBitsPerWeight))
        }
        func bits(_ picked: [Option]) -> Double { picked.reduce(0) { $0 + $1.bits } }
        let choices = zip(targeted, picked).map { tensor, option in
            Choice(
                tensor: tensor.name, candidate: spec.candidates[option.candidate].name, bits: Int(option.bits),
                sqnrDB: option.sqnrDB)
        }
        var selection = Selection(
            choices: choices, budgetBitsPerWeight: spec.maxBitsPerWeight, usedBitsPerWeight: bits(picked) / total, lambda: lambda)
        selection.outputErrorTensors = outputErrorTensors
        return selection
    }

    /// One candidate's output SQNR on a layer: its artifact of that tensor alone, written to
    /// `scratch`, dequantized by the same reader users get, then X·Ŵᵀ against X·Wᵀ.
    static func outputSQNR(
        _ plan: TensorPlan, recipe: Recipe, source: SourceModel, processor: TensorProcessor,
        layer: (x: Matrix, w: Matrix, reference: Matrix),
        scratch: String
    ) throws -> Double {
        let path = (scratch as NSString).appendingPathComponent(".mixed-precision-\(UUID().uuidString).safetensors")
        let restoredPath = path + ".f32"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: restoredPath)
        }
        let writer = try ArtifactWriter(
            path: path, plans: [plan], format: .safetensors,
            safetensorsMetadata: Pipeline.safetensorsMetadata(source, plans: [plan], recipe: recipe),
            ggufMetadata: [], ggufVersion: 3)
        do {
            var fixedPoint: String?
            _ = try processor.process(plan, into: writer, fixedPoint: &fixedPoint)
            try writer.commit(sync: false)
        } catch {
            writer.abort()
            throw error
        }
        try Dequantizer.run(input: path, output: restoredPath, kernels: processor.kernels)
        let restored = try SafetensorsFile(path: restoredPath).tensor(named: plan.source.name).floats()
        let w = Matrix(rows: layer.w.rows, cols: layer.w.cols, values: restored)
        return LayerEvaluation.sqnr(layer.reference, BLAS.multiplyTransposed(layer.x, w))
    }

    /// The Lagrangian choice: per row the option of least error + lambda x bits (ties to fewer
    /// bits), with lambda the smallest (by bisection on its logarithm) that meets `budget`. Nil
    /// when even the cheapest options exceed the budget.
    static func solve(_ table: [[Option]], budget: Double) -> (picked: [Option], lambda: Double)? {
        func pick(_ lambda: Double) -> [Option] {
            table.map { row in
                row.min { ($0.weightedError + lambda * $0.bits, $0.bits) < ($1.weightedError + lambda * $1.bits, $1.bits) }!
            }
        }
        func bits(_ picked: [Option]) -> Double { picked.reduce(0) { $0 + $1.bits } }
        guard table.reduce(0, { $0 + ($1.map(\.bits).min() ?? 0) }) <= budget else { return nil }
        guard bits(pick(0)) > budget else { return (pick(0), 0) }
        // The bits used fall as lambda grows.
        var low = 1e-300
        var high = 1.0
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
        let overrides =
            recipe.overrides
            + selection.choices.compactMap { choice in
                byName[choice.candidate].map { Recipe.Override(match: Glob(exactly: choice.tensor), weights: $0) }
            }
        var json = recipe.json.objectValue ?? JSONObject()
        json["mixed_precision"] = selection.json
        var resolved = Recipe(
            preset: recipe.preset, weights: recipe.weights, targets: recipe.targets, ignore: recipe.ignore, overrides: overrides,
            output: recipe.output, nonFinite: recipe.nonFinite, json: .object(json))
        resolved.maxShardBytes = recipe.maxShardBytes
        resolved.evaluation = recipe.evaluation
        return resolved
    }
}
