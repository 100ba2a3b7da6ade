import Foundation
import Int8Kernels
import JSON
import ModelArchitectures
import ModelFormats

extension TensorPlan {
    /// Whether this tensor's search takes importance weights: a GGUF block type that has them
    /// (not Q8_0 or MXFP4), a 2-D weight, and a spec that names the dataset.
    var takesImportance: Bool {
        guard case .blocks(let format) = action else { return false }
        return format.takesImportance && spec?.gguf?.datasetID != nil && source.shape.count == 2
    }
}

/// A run whose dataset is a llama.cpp importance matrix (`imatrix.gguf` or `imatrix.dat`): it weights
/// the GGUF block types' search as `llama-quantize --imatrix` does; nothing else reads it.
extension Pipeline {
    static func importanceMatrix(recipe: Recipe, options: PipelineOptions, source: SourceModel, scratch: String) throws
        -> ImportanceMatrix?
    {
        guard let path = options.calibrationDataset else { return nil }
        if ImportanceMatrix.recognizes(path: path) {
            try checkImportanceMatrixFits(recipe)
            return try ImportanceMatrix(path: path)
        }
        // Text serves a recipe that reads samples through captured layer inputs (calibrationContext);
        // for the others the reference forward pass computes the matrix, as llama-imatrix would.
        guard isText(path), sampleUse(recipe) == nil else { return nil }
        guard let checkpoint = source.checkpoint, let tokenizerPath = checkpoint.path(of: "tokenizer.json") else {
            throw CalibrationError.invalidDataset(
                "importance weights from text need the model as a Hugging Face checkpoint with tokenizer.json")
        }
        let file = (scratch as NSString).appendingPathComponent(
            "imatrix-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max)).gguf")
        defer { try? FileManager.default.removeItem(atPath: file) }
        do {
            let tokenizer = try Tokenizer(path: tokenizerPath)
            let text = try TextChunks(
                text: TextDataset(path: path).joined, tokenizer: tokenizer, context: options.importanceContext)
            let collector = try ImportanceCollector.collect(DecoderForward.open(checkpoint.directory), text: text)
            try collector.write(to: file, datasets: [options.calibrationDatasetName ?? (path as NSString).lastPathComponent])
        } catch let error as EvaluationError {
            throw CalibrationError.invalidDataset("importance weights from text: \(error.message)")
        } catch let error as TokenizerError {
            throw CalibrationError.invalidDataset("importance weights from text: \(error.message)")
        }
        return try ImportanceMatrix(path: file)
    }

    /// A text dataset (plain or JSON Lines), not a model-format file.
    public static func isText(_ path: String) -> Bool { TextDataset.stored(at: path) != nil }

    /// An importance matrix serves a recipe that reads no calibration samples; otherwise this throws
    /// what needs them.
    public static func checkImportanceMatrixFits(_ recipe: Recipe) throws {
        if let use = sampleUse(recipe) {
            throw CalibrationError.invalidDataset(
                "\(use) needs calibration samples (`<layer>.input` tensors), but the dataset is a llama.cpp importance matrix, which only weights the GGUF block types' search; give a safetensors dataset of layer inputs, or text"
            )
        }
    }

    /// What in a recipe reads calibration samples themselves, not just importance weights.
    static func sampleUse(_ recipe: Recipe) -> String? {
        if recipe.awq != nil { return "AWQ" }
        if recipe.activations?.datasetID != nil { return "static activation scales" }
        if recipe.mixedPrecision?.datasetID != nil { return "mixed precision's output error" }
        for spec in [recipe.weights] + recipe.overrides.map(\.weights) {
            if case .gptq = spec { return "GPTQ" }
            if case .adaround? = spec.scheme?.rounding { return "AdaRound" }
        }
        return nil
    }

    static func annotateImportance(_ report: inout TensorReport, plan: TensorPlan, entry: String?) {
        if let entry {
            report.calibration = .object(
                JSONObject([
                    ("rounding", .string("importance-weighted (llama.cpp importance matrix)")),
                    ("importance_entry", .string(entry)),
                ]))
        } else if plan.takesImportance {
            report.note = [
                report.note,
                "the importance matrix has no entry for this tensor (nor for its llama.cpp name): quantized without importance weights, as llama.cpp does",
            ]
            .compactMap { $0 }.joined(separator: "; ")
        }
    }

    static func importanceSummary(_ matrix: ImportanceMatrix, used: Int) -> JSONValue {
        var summary = matrix.summary
        summary["tensors_weighted"] = .integer(used)
        return .object(JSONObject([("importance_matrix", .object(summary))]))
    }

    /// The keys llama.cpp's quantize writes when it is given an importance matrix.
    static func importanceMetadata(_ matrix: ImportanceMatrix, name: String) -> [GGUFKeyValue] {
        var keys = [
            GGUFKeyValue("quantize.imatrix.file", .string(name)),
            GGUFKeyValue("quantize.imatrix.entries_count", .int32(Int32(clamping: matrix.entryCount))),
            GGUFKeyValue("quantize.imatrix.chunks_count", .int32(Int32(clamping: matrix.chunkCount))),
        ]
        if let dataset = matrix.datasets.first { keys.insert(GGUFKeyValue("quantize.imatrix.dataset", .string(dataset)), at: 1) }
        return keys
    }
}
