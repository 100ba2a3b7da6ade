import Foundation
import HTTPServer
import JSON
import ModelFormats
import QuantAPI
import QuantCore
import QuantStore

/// Calibration datasets: `POST /v1/datasets` (a safetensors file of `<layer>.input` samples, QAT
/// training data, or a llama.cpp importance matrix), list, show, delete; the same tenant rules,
/// upload limits and storage quota as models.
extension ServiceAPI {
    func addDatasets(_ router: inout Router) {
        let uploads = UploadReceiver(data: data, counters: pool.counters)
        // Calibration samples (`<layer>.input`) or QAT training data (`x`, `y`).
        router.add(.post, "/v1/datasets", bodyLimit: config.maxUploadBytes) { [self] request, body in
            let scope = try scope(request)
            let name = try Self.uploadName(request, default: "dataset")
            let stored = try Self.run {
                try uploads.store(request, body: body, maxBytes: config.maxUploadBytes, what: "dataset") { file in
                    do {
                        try CalibrationDataset.validateUpload(
                            file.tensors.map { tensor in
                                (
                                    tensor.name, tensor.shape,
                                    DType(rawValue: tensor.dtype).flatMap { $0.isFloatingPoint ? $0 : nil }, file.format
                                )
                            })
                    } catch let error as CalibrationError {
                        throw HTTPError(422, "\(error)", type: "invalid-dataset")
                    }
                } other: { path in
                    try Self.textUpload(path, contentType: request.header("content-type")) ?? Self.importanceMatrixUpload(path)
                }
            }
            defer { stored.blob.discard() }
            let dataset: DatasetRecord
            do {
                dataset = try scope.addDataset(
                    .init(
                        name: name, size: stored.size, sha256: stored.sha256, tensorCount: stored.tensorCount,
                        blobPath: stored.blobPath),
                    placeBlob: stored.blob.place)
            } catch StoreError.quotaExceeded(let message) {
                throw HTTPError(413, message, type: "storage-quota")
            }
            return try Self.json(201, JSONViews.dataset(dataset), headers: [("Location", "/v1/datasets/\(dataset.id)")])
        }
        router.add(.get, "/v1/datasets") { [self] request, _ in
            let scope = try scope(request)
            let limit = try Self.limit(request, default: 100)
            let datasets = try Self.run { try scope.datasets(limit: limit) }
            return try Self.json(200, DatasetList(datasets: datasets.map(JSONViews.dataset)))
        }
        router.add(.get, "/v1/datasets/{id}") { [self] request, _ in
            let dataset = try Self.run { try scope(request).dataset(request.pathParameters["id"] ?? "") }
            var view = JSONViews.dataset(dataset)
            if let text = TextDataset.stored(at: dataset.blobPath) {
                view.text = Dataset.Text(format: text.isJSONLines ? "jsonl" : "plain", texts: text.texts.count)
            } else if let matrix = try? ImportanceMatrix(path: dataset.blobPath) {
                view.importanceMatrix = Dataset.ImportanceMatrix(
                    format: matrix.format.rawValue, entries: matrix.entryCount, datasets: matrix.datasets,
                    chunks: matrix.chunkCount)
            } else if let file = try? CalibrationDataset(path: dataset.blobPath) {
                view.layers = file.layers.map {
                    Dataset.Layer(name: $0, samples: file.samples(of: $0), features: file.features(of: $0))
                }
            }
            return try Self.json(200, view)
        }
        router.add(.delete, "/v1/datasets/{id}") { [self] request, _ in
            _ = try Self.run {
                try scope(request).deleteDataset(request.pathParameters["id"] ?? "", removeBlob: BlobStore.remove)
            }
            return HTTPResponse(status: 204)
        }
    }

    /// Text for evaluation, sent as `text/plain` or `application/jsonl` (`application/x-ndjson`):
    /// checked as UTF-8 (and JSON Lines of {"text": ...}); nil for other content types.
    static func textUpload(_ path: String, contentType: String?) throws -> UploadReceiver.OtherFile? {
        let type =
            (contentType ?? "").lowercased().split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let jsonLines: Bool
        switch type {
        case "text/plain": jsonLines = false
        case "application/jsonl", "application/x-ndjson", "application/jsonlines": jsonLines = true
        default: return nil
        }
        do {
            let text = try TextDataset(path: path, jsonLines: jsonLines)
            return (jsonLines ? "jsonl" : "text", text.texts.count)
        } catch let error as EvaluationError {
            throw HTTPError(422, "the text dataset is not usable: \(error.message)", type: "invalid-dataset")
        }
    }

    /// An evaluation needs a text dataset of the tenant's and a checkpoint whose architecture the
    /// reference forward pass runs: each is a 422 before the job is queued.
    static func checkEvaluation(_ spec: EvaluationSpec, modelPath: String, scope: TenantScope) throws {
        let field: [(String, String)] = [("field", "recipe.evaluation.dataset_id")]
        guard let dataset = try? scope.dataset(spec.datasetID) else {
            throw HTTPError(
                422, "evaluation.dataset_id \(spec.datasetID) is not one of your datasets: upload text with POST /v1/datasets",
                type: "invalid-recipe", extensions: field)
        }
        guard TextDataset.stored(at: dataset.blobPath) != nil else {
            throw HTTPError(
                422, "evaluation.dataset_id \(spec.datasetID) is not text: upload it as text/plain or application/jsonl",
                type: "invalid-recipe", extensions: field)
        }
        let architecture =
            Checkpoint.isCheckpoint(path: modelPath)
            ? (try? Checkpoint(directory: modelPath))?.config?["architectures"]?.arrayValue?.first?.stringValue : nil
        let evaluable = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "BertModel"]
        guard let architecture, evaluable.contains(architecture) else {
            throw HTTPError(
                422,
                "evaluation runs on Hugging Face checkpoints of \(evaluable.joined(separator: ", ")); this model is \(architecture ?? "not a checkpoint")",
                type: "invalid-recipe", extensions: [("field", "recipe.evaluation")])
        }
    }

    /// A llama.cpp importance matrix (GGUF or legacy `.dat`), checked entry by entry; nil for any
    /// other file, which is then validated as a safetensors dataset.
    static func importanceMatrixUpload(_ path: String) throws -> UploadReceiver.OtherFile? {
        guard ImportanceMatrix.recognizes(path: path) else { return nil }
        do {
            let matrix = try ImportanceMatrix(path: path)
            try matrix.validateValues()
            return ("imatrix-\(matrix.format.rawValue)", matrix.entryCount)
        } catch let error as CalibrationError {
            throw HTTPError(422, "\(error)", type: "invalid-dataset")
        }
    }

    /// A dataset that does not fit the model is a 422 naming the layer, before the job is queued.
    /// (Training data, `x` and `y` without `<layer>.input`, fails here too: it calibrates nothing.)
    /// An importance matrix fits any recipe that reads no samples; its entries are matched per tensor.
    static func checkPairing(dataset path: String, modelPath: String, recipe: Recipe) throws {
        do {
            if ImportanceMatrix.recognizes(path: path) { return try Pipeline.checkImportanceMatrixFits(recipe) }
            if Pipeline.isText(path) {
                // Text gives importance weights or layer inputs through the forward pass of the checkpoint.
                guard Checkpoint.isCheckpoint(path: modelPath) else {
                    throw CalibrationError.invalidDataset(
                        "importance weights from text need the model as a Hugging Face checkpoint (config.json, tokenizer.json); upload the checkpoint folder"
                    )
                }
                return
            }
            try CalibrationDataset(path: path).check(against: SourceModel(path: modelPath))
        } catch let error as CalibrationError {
            var extensions: [(String, String)] = [("field", "recipe")]
            if case .mismatch(let layer, _) = error { extensions.append(("layer", layer)) }
            throw HTTPError(422, "\(error)", type: "dataset-mismatch", extensions: extensions)
        }
    }
}
