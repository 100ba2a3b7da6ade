import Foundation
import HTTPServer
import JSON
import ModelFormats
import QuantCore
import QuantStore

/// QAT jobs: `{"kind": "qat", "training": {...}}` on `POST /v1/jobs` (docs/QAT.md), checked before
/// queueing; their per-epoch metrics in the report.
extension ServiceAPI {
    /// The training request of a QAT job; nil for quantize jobs. Errors are 422s naming the field.
    static func trainingRequest(_ object: JSONObject, recipe: Recipe) throws -> TrainingSpec? {
        let kind = object["kind"]?.stringValue ?? "quantize"
        guard ["quantize", "qat"].contains(kind), object["kind"].map({ $0.stringValue != nil }) ?? true else {
            throw HTTPError(
                422, "kind must be \"quantize\", \"qat\" or \"evaluate\"", type: "invalid-request",
                extensions: [("field", "kind")])
        }
        guard kind == "qat" else {
            if object["training"] != nil {
                throw HTTPError(
                    422, "training applies to \"kind\": \"qat\" jobs", type: "invalid-request",
                    extensions: [("field", "training")])
            }
            return nil
        }
        guard let value = object["training"] else {
            throw HTTPError(
                422,
                "a qat job needs training: {\"dataset_id\", \"epochs\", \"batch_size\", \"learning_rate\", \"optimizer\", \"seed\", \"validation_split\"}",
                type: "invalid-training", extensions: [("field", "training")])
        }
        do {
            let spec = try TrainingSpec.parse(value)
            if let named = recipe.datasetID, named != spec.datasetID {
                throw TrainingError.unsupported(
                    "recipe.activations.dataset_id",
                    "a QAT job's static activation scales come from its training data: name the training dataset (\(spec.datasetID)) or none"
                )
            }
            return spec
        } catch let error as TrainingError {
            throw problem(error)
        }
    }

    /// The model, recipe and data fit QAT's scope (feed-forward network, linear/binary/ternary weights).
    static func checkTraining(model: String, dataset: String, recipe: Recipe, training: TrainingSpec) throws {
        do {
            try QAT.validate(model: model, dataset: dataset, recipe: recipe, training: training)
        } catch let error as TrainingError {
            throw problem(error)
        } catch let error as FormatError {
            throw HTTPError(422, "QAT cannot read the model or data: \(error)", type: "invalid-training")
        }
    }

    static func problem(_ error: TrainingError) -> HTTPError {
        HTTPError(422, "\(error)", type: "qat-not-supported", extensions: [("field", error.field)])
    }

    /// `training` of a QAT job's report: the request, the evaluation (fp32, PTQ, QAT) from the
    /// summary, and every epoch's metrics from the store.
    static func trainingReport(_ job: JobRecord, epochs: [EpochMetricRecord]) -> JSONValue {
        let summary = job.summary.flatMap { try? StrictJSON.parse($0).objectValue }
        let rows = epochs.map { e in
            EpochRecord(
                epoch: e.epoch, trainLoss: e.trainLoss, validationLoss: e.validationLoss,
                validationAccuracy: e.validationAccuracy, seconds: e.seconds
            ).json
        }
        return .object(
            JSONObject([
                ("request", job.training.flatMap { try? StrictJSON.parse($0) } ?? .null),
                ("evaluation", summary?["training"]?.objectValue?["evaluation"] ?? .null),
                ("epochs", .array(rows)),
            ]))
    }
}
