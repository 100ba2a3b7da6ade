import Foundation
import Int8Kernels
import JSON
import ModelFormats

/// AWQ in a run (`recipe.awq`): the groups are found and checked when the model is planned, the
/// scales searched on the dataset's layer inputs before anything is written, and then folded into
/// the tensors as they are read (`ElementScaling`), so quantization itself is unchanged.
extension Pipeline {
    struct AWQResult {
        /// The report's `summary.calibration`.
        var summary: JSONValue
        /// Each group member's `calibration` in the report, by output tensor name.
        var tensors: [String: JSONValue]
    }

    /// The AWQ groups of a model (Llama-family checkpoints), every member's plan checked: part of
    /// the one planning path, so the server refuses at submit what a run would refuse.
    static func awqGroups(_ source: SourceModel, plans: [TensorPlan]) throws -> [AWQ.Group] {
        guard let config = source.checkpoint?.config, let spec = try? DecoderSpec(config: config) else {
            throw PipelineError.unsupported(
                "awq",
                "AWQ runs on Hugging Face checkpoints of LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM (a folder with config.json)"
            )
        }
        let byName = planIndex(plans)
        let groups = AWQ.decoderGroups(spec) { byName[$0] != nil }
        guard !groups.isEmpty else {
            throw PipelineError.unsupported(
                "awq", "the checkpoint has none of the layers AWQ scales (norms, q/k/v/o, gate/up/down)")
        }
        for group in groups {
            for member in group.members { _ = try awqRoundTrip(plans[byName[member]!], kernels: .scalar) }
            for producer in group.producers where plans[byName[producer]!].source.floatDType == nil {
                throw PipelineError.unsupported(producer, "AWQ folds its scales into this tensor, which holds no floats")
            }
        }
        return groups
    }

    /// Plans by the checkpoint's tensor names (a GGUF conversion renames them).
    static func planIndex(_ plans: [TensorPlan]) -> [String: Int] {
        Dictionary(
            plans.indices.map { (plans[$0].source.sourceName ?? plans[$0].source.name, $0) },
            uniquingKeysWith: { first, _ in first })
    }

    /// How a member's plan quantizes and restores a weight matrix, in memory (nil: it stays in
    /// floating point and loses nothing to scaling).
    static func awqRoundTrip(_ plan: TensorPlan, kernels: Kernels) throws -> ((Matrix) throws -> Matrix)? {
        let tensor = plan.source
        switch plan.action {
        case .copy, .float: return nil
        case .linear(let scheme, let scaleDType), .compressedLinear(let scheme, let scaleDType):
            guard CalibratedLinearEncoder.applies(scheme, to: tensor) else {
                throw PipelineError.unsupported(
                    tensor.name,
                    "AWQ searches scales for linear weights with group or per-output-channel scales; use \"granularity\": \"group\""
                )
            }
            var group = tensor.shape[1]
            if case .group(let size) = scheme.granularity { group = size }
            return { w in
                let parameters = try w.values.withUnsafeBufferPointer {
                    try LinearTensorEncoder.rowParameters(
                        $0, rows: w.rows, cols: w.cols, group: group, scheme: scheme, scaleDType: scaleDType, kernels: kernels,
                        tensor: tensor.name)
                }
                let grid = LinearGrid(scheme: scheme, cols: w.cols, group: group, parameters: parameters)
                return grid.values(of: grid.codes(of: w), rows: w.rows)
            }
        case .blocks(let format):
            return { w in
                var blocks = [UInt8](repeating: 0, count: format.blockBytes(elements: w.values.count))
                var restored = Matrix(zeros: w.rows, w.cols)
                try w.values.withUnsafeBufferPointer { values in
                    try blocks.withUnsafeMutableBytes { try kernels.quantizeBlocks(format, values, into: $0) }
                }
                try blocks.withUnsafeBytes { bytes in
                    try restored.values.withUnsafeMutableBufferPointer { try kernels.dequantizeBlocks(format, bytes, into: $0) }
                }
                return restored
            }
        default:
            throw PipelineError.unsupported(
                tensor.name, "AWQ searches scales for linear integer weights and GGUF block types, not this tensor's method")
        }
    }

    /// Searches every group's scales and sets them on the plans' tensors. Tensors copied byte for
    /// byte (norms) are planned as a conversion to their own dtype instead, so the scaling applies.
    static func applyAWQ(
        _ plans: inout [TensorPlan], source: SourceModel, recipe: Recipe, options: PipelineOptions, scratch: String
    ) throws -> AWQResult? {
        guard let awq = recipe.awq else { return nil }
        guard var path = options.calibrationDataset else {
            throw PipelineError.unsupported(
                "awq",
                "the recipe names dataset '\(awq.datasetID)' but no dataset was given (quantctl: --dataset FILE, text or layer inputs)"
            )
        }
        if ImportanceMatrix.recognizes(path: path) { try checkImportanceMatrixFits(recipe) }
        if isText(path) { path = try capturedInputs(source, text: path, options: options, scratch: scratch) }
        defer { if path != options.calibrationDataset { try? FileManager.default.removeItem(atPath: path) } }
        let dataset = try CalibrationDataset(path: path)
        try dataset.check(against: source)
        BLAS.setThreads(options.threads)

        let groups = try awqGroups(source, plans: plans)
        let byName = planIndex(plans)
        let processor = TensorProcessor(
            source: source, kernels: options.kernels, threads: options.threads, chunkElements: options.chunkElements
        ) { _ in
            if options.isCancelled?() == true { throw PipelineError.cancelled }
        }
        var scalings: [String: ElementScaling] = [:]
        var tensors: [String: JSONValue] = [:]
        var before: [Double] = []
        var after: [Double] = []
        var scaled = 0
        var searched = 0
        for group in groups {
            let layer = dataset.layer(ofWeight: group.members[0])
            guard let layer else { continue }
            let x = try dataset.inputs(of: layer, kernels: options.kernels)
            let members = try group.members.map { name in
                let plan = plans[byName[name]!]
                let weight = try CalibratedLinearEncoder.readWeights(
                    plan.source, rows: plan.source.shape[0], cols: plan.source.shape[1], processor: processor,
                    reportProgress: false)
                return AWQ.Member(name: name, weight: weight, roundTrip: try awqRoundTrip(plan, kernels: options.kernels))
            }
            guard members.contains(where: { $0.roundTrip != nil }) else { continue }
            let outcome = try AWQ.search(
                x: x, members: members, groupSize: awqGroupSize(group.members.map { plans[byName[$0]!] }), grid: awq.grid,
                duoScaling: awq.duoScaling,
                isCancelled: { options.isCancelled?() == true })
            searched += 1
            if let scales = outcome.scales {
                scaled += 1
                for member in group.members { scalings[member, default: ElementScaling()].columns = scales }
                for producer in group.producers { scalings[producer, default: ElementScaling()].rows = scales }
            }
            for member in members where member.roundTrip != nil {
                let sqnrBefore = outcome.before[member.name]!
                let sqnrAfter = outcome.after[member.name]!
                if sqnrBefore.isFinite, sqnrAfter.isFinite {
                    before.append(sqnrBefore)
                    after.append(sqnrAfter)
                }
                tensors[plans[byName[member.name]!].source.name] = .object(
                    JSONObject([
                        ("method", .string("awq")), ("input", .string(layer)), ("samples", .integer(outcome.samples)),
                        ("scaled", .bool(outcome.scales != nil)), ("ratio", outcome.ratio.map(Report.number) ?? .null),
                        (
                            "output_sqnr_db",
                            .object(JSONObject([("before", Report.number(sqnrBefore)), ("after", Report.number(sqnrAfter))]))
                        ),
                    ]))
            }
        }
        for (name, scaling) in scalings {
            let index = byName[name]!
            var tensor = plans[index].source
            tensor.scaling = scaling
            if case .copy = plans[index].action {
                guard let dtype = tensor.floatDType, [.f32, .f16, .bf16].contains(dtype) else {
                    throw PipelineError.unsupported(
                        tensor.name,
                        "AWQ folds its scales into this tensor, stored as \(tensor.dtypeName); it needs F32, F16 or BF16")
                }
                plans[index] = TensorPlan.floatPlan(tensor, dtype, output: recipe.output, note: plans[index].note)
            } else {
                plans[index].source = tensor
            }
        }
        func mean(_ values: [Double]) -> JSONValue {
            values.isEmpty ? .null : Report.number(values.reduce(0, +) / Double(values.count))
        }
        let summary = JSONValue.object(
            JSONObject([
                ("method", .string("awq")), ("groups", .integer(searched)), ("groups_scaled", .integer(scaled)),
                ("grid", .integer(awq.grid)),
                ("duo_scaling", .bool(awq.duoScaling)),
                ("mean_output_sqnr_db", .object(JSONObject([("before", mean(before)), ("after", mean(after))]))),
            ]))
        return AWQResult(summary: summary, tensors: tensors)
    }

    /// The quantization group along a row that AWQ measures weight magnitudes in: the first
    /// quantized member's (linear group, or the GGUF block).
    static func awqGroupSize(_ plans: [TensorPlan]) -> Int {
        for plan in plans {
            switch plan.action {
            case .linear(let scheme, _), .compressedLinear(let scheme, _):
                if case .group(let size) = scheme.granularity { return size }
                return plan.source.shape[1]
            case .blocks(let format): return format.blockSize
            default: continue
            }
        }
        return 128
    }
}
