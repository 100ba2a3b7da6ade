import Foundation
import Int8Kernels
import JSON
import ModelFormats

/// The calibration side of a run: opening and checking the dataset, static input scales in the
/// artifact, and the evaluation in the report.
extension Pipeline {
    static func calibrationContext(_ source: SourceModel, recipe: Recipe, options: PipelineOptions, scratch: String) throws
        -> CalibrationContext?
    {
        guard var path = options.calibrationDataset else {
            if let id = recipe.datasetID {
                throw PipelineError.unsupported(
                    "", "the recipe names dataset '\(id)' but no calibration dataset was given (quantctl: --dataset FILE)")
            }
            return nil
        }
        if isText(path) {
            // Text: layer inputs captured by the forward pass, read like an uploaded dataset; the
            // file is unlinked at once (the dataset keeps its mapping).
            path = try capturedInputs(source, text: path, options: options, scratch: scratch)
        }
        defer { if path != options.calibrationDataset { try? FileManager.default.removeItem(atPath: path) } }
        let dataset = try CalibrationDataset(path: path)
        let layers = try dataset.check(against: source)
        BLAS.setThreads(options.threads)
        return try CalibrationContext(dataset: dataset, activations: recipe.activations, layers: layers, kernels: options.kernels)
    }

    static func addInputQuantization(_ plans: inout [TensorPlan], _ calibration: CalibrationContext) {
        guard let activations = calibration.activations, activations.mode == .staticScales else { return }
        for index in plans.indices {
            guard let layer = calibration.dataset.layer(ofWeight: plans[index].source.name),
                let input = calibration.staticInputs[layer]
            else { continue }
            plans[index].addInputQuantization(input, layer: layer, symmetric: activations.symmetric)
        }
    }

    static func writeInputQuantization(_ input: StaticActivation, plan: TensorPlan, into writer: ArtifactWriter) throws {
        try writer.write(try FloatCodec.fromFloat32(.f32, [input.scale]))
        if plan.outputs.last?.name.hasSuffix(".input_zero_point") == true {
            try writer.write([UInt8(bitPattern: input.zeroPoint)])
        }
    }

    static func annotate(_ report: inout TensorReport, plan: TensorPlan, calibration: CalibrationContext) {
        // Static input scales are part of the layer's output, not of its weights' size.
        let extra =
            plan.inputQuantization == nil
            ? 0
            : plan.outputs.filter { $0.name.hasSuffix(".input_scale") || $0.name.hasSuffix(".input_zero_point") }.reduce(0) {
                $0 + $1.byteCount
            }
        report.bytesOut -= extra
        if let (evaluation, rounding) = calibration.evaluations.withLock({ $0[plan.source.name] }) {
            var object = evaluation.json.objectValue ?? JSONObject()
            object["rounding"] = .string(rounding)
            report.calibration = .object(object)
        } else if let spec = plan.spec, spec.calibrationDatasetID != nil {
            let fallback = spec.method == .gguf ? "quantized without importance weights" : "rounded to nearest"
            report.note = [
                report.note, "no calibration samples for this tensor (`<layer>.input` for a 2-D `<layer>.weight`): \(fallback)",
            ]
            .compactMap { $0 }.joined(separator: "; ")
        }
    }

    static func calibrationSummary(_ calibration: CalibrationContext, report: Report, recipe: Recipe) -> JSONValue {
        let evaluations = calibration.evaluations.withLock { $0.values.map(\.evaluation) }
        let fp32 = evaluations.reduce(0) { $0 + $1.fp32Seconds }
        let int8 = evaluations.reduce(0) { $0 + $1.int8Seconds }
        return .object(
            JSONObject([
                ("layers", .integer(evaluations.count)),
                ("activations", recipe.activations?.json ?? .null),
                ("fp32_gemm_ms", Report.number(fp32 * 1000)),
                ("int8_gemm_ms", Report.number(int8 * 1000)),
                ("int8_speedup", Report.number(int8 > 0 ? fp32 / int8 : 0)),
                // Which int8 GEMM that was (avx512-vnni, avx2, scalar) against OpenBLAS's sgemm.
                ("int8_gemm_isa", .string(calibration.kernels.isa.description)),
            ]))
    }
}
