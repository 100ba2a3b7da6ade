import ArgumentParser
import Foundation
import JSON
import QuantAPI

/// Every API type (QuantAPI) with every field set, each beside the openapi.yaml schema it must match:
/// Tests/Interop/test_openapi.py validates each example against its schema with no unknown
/// properties allowed, and checks that each property the schema names is in the example. `unset`
/// lists optional fields that no example of a type sets, so a field added to a type without an
/// example cannot slip past the check.
enum WireExamples {
    static let sha = String(repeating: "0f", count: 32)
    static let time = "2026-12-06T22:52:49.123Z"

    static let model = Model(
        id: "mdl_0123456789abcdefghij", name: "tiny", format: "safetensors", size: 4096, sha256: sha, tensorCount: 2,
        parameterCount: 1024, createdAt: time, links: ["self": "/v1/models/mdl_0123456789abcdefghij"])

    static var dataset: Dataset {
        var dataset = Dataset(
            id: "dst_0123456789abcdefghij", name: "calibration", size: 8192, sha256: sha, tensorCount: 1, createdAt: time,
            links: ["self": "/v1/datasets/dst_0123456789abcdefghij"])
        dataset.layers = [Dataset.Layer(name: "layers.0.mlp", samples: 64, features: 256)]
        dataset.importanceMatrix = Dataset.ImportanceMatrix(format: "gguf", entries: 7, datasets: ["wiki.train.raw"], chunks: 10)
        dataset.text = Dataset.Text(format: "jsonl", texts: 12)
        return dataset
    }

    static var evaluation: ModelEvaluation {
        var e = ModelEvaluation()
        e.chunks = 8
        e.context = 512
        e.tokensScored = 2048
        e.perplexityOriginal = 12.5
        e.perplexityQuantized = 12.75
        e.klDivergenceMean = 0.0125
        e.klDivergenceP99 = 0.25
        e.top1Agreement = 0.9375
        e.texts = 4
        e.embeddingCosineMean = 0.999
        e.embeddingCosineMin = 0.99
        return e
    }

    static var summary: JobSummary {
        var s = JobSummary()
        s.tensors = 3
        s.tensorsQuantized = 2
        s.tensorsKept = 1
        s.parameters = 1024
        s.bytesIn = 4096
        s.bytesOut = 576
        s.fileBytesIn = 4200
        s.fileBytesOut = 700
        s.compressionRatio = 7.1
        s.bitsPerWeight = 4.5
        s.meanSqnrDb = 21.5
        s.minSqnrDb = 19.25
        s.worstTensor = "layers.0.mlp.weight"
        s.durationSeconds = 0.5
        s.inputFormat = "safetensors"
        s.outputFormat = "gguf"
        s.mixedPrecision = .object(JSONObject([("max_bits_per_weight", .number("4.5"))]))
        s.calibration = .object(JSONObject([("dataset_id", .string("dst_0123456789abcdefghij"))]))
        s.evaluation = evaluation
        s.training = .object(JSONObject([("seconds", .number("1.5")), ("epochs", .number("3"))]))
        s.candidate = JobRequest.Candidate(modelId: "mdl_x")
        return s
    }

    static let recipe = JSONValue.object(JSONObject([("preset", .string("q4_k_m"))]))

    static var job: Job {
        Job(
            id: "job_0123456789abcdefghij", modelId: model.id, datasetId: "dst_0123456789abcdefghij", kind: "qat",
            name: "tiny q4",
            status: "succeeded", progress: Job.Progress(done: 4096, total: 4096, fraction: 1, stage: "training"), recipe: recipe,
            attempt: 1, maxAttempts: 3, createdAt: time, startedAt: time, finishedAt: time, updatedAt: time,
            error: Job.Failure(code: "no_space", message: "the disk is full"), summary: summary,
            links: ["self": "/v1/jobs/job_0123456789abcdefghij"],
            artifact: Job.Artifact(size: 700, sha256: sha, archive: "tar", expiresAt: time, available: true))
    }

    static var tensor: TensorMetrics {
        var t = TensorMetrics(
            name: "layers.0.mlp.weight", shape: [16, 64], dtype: "F32", method: "linear", bytesIn: 4096, bytesOut: 576,
            bitsPerWeight: 4.5)
        t.bits = 4
        t.type = "Q4_K"
        t.granularity = "group"
        t.axis = 0
        t.groupSize = 32
        t.mse = 0.001
        t.sqnrDb = 21.5
        t.maxAbsError = 0.05
        t.cosine = 0.999
        t.seconds = 0.01
        t.fixedPoint = "Q1.6"
        t.scheme = "symmetric"
        t.note = "kept in F16: a norm"
        var c = LayerCalibration()
        c.samples = 64
        c.rounding = "gptq"
        c.outputSqnrDb = LayerCalibration.OutputSQNR(
            weightOnly: 30, weightOnlyNearest: 28, w8a8Static: 25, w8a8Dynamic: 26, before: 20, after: 22)
        c.staticCalibrator = "minmax"
        c.inputScale = 0.02
        c.inputZeroPoint = 0
        c.fp32GemmMs = 1.5
        c.int8GemmMs = 0.5
        c.int8Speedup = 3
        c.importanceEntry = "blk.0.ffn_up.weight"
        c.method = "awq"
        c.input = "model.layers.0.mlp.up_proj"
        c.scaled = true
        c.ratio = 0.5
        t.calibration = c
        return t
    }

    static var report: JobReport {
        JobReport(
            jobId: job.id, kind: "qat", summary: summary, tensors: [tensor],
            training: TrainingReport(
                request: .object(JSONObject([("dataset_id", .string("dst_x"))])),
                evaluation: TrainingReport.Evaluation(
                    fp32Accuracy: 0.98, ptqAccuracy: 0.9, qatAccuracy: 0.97, fp32Loss: 0.1, ptqLoss: 0.3, qatLoss: 0.12),
                epochs: [
                    TrainingReport.Epoch(epoch: 1, trainLoss: 0.5, validationLoss: 0.4, validationAccuracy: 0.9, seconds: 0.2)
                ]),
            evaluation: evaluation)
    }

    static let qatRequest = JobRequest(
        modelId: "mdl_x", kind: "qat", name: "train", recipe: recipe,
        training: .object(JSONObject([("dataset_id", .string("dst_x"))])))
    static let evaluateRequest = JobRequest(
        modelId: "mdl_x", kind: "evaluate", name: "compare", candidate: JobRequest.Candidate(modelId: "mdl_y"),
        evaluation: .object(JSONObject([("dataset_id", .string("dst_x"))])))
    static let evaluateJobRequest = JobRequest(
        modelId: "mdl_x", kind: "evaluate", name: "against a job", candidate: JobRequest.Candidate(jobId: "job_y"),
        evaluation: .object(JSONObject([("dataset_id", .string("dst_x"))])))

    static func path(_ route: String, _ method: String, _ status: String = "200") -> String {
        "#/paths/\(route.replacingOccurrences(of: "/", with: "~1"))/\(method)/responses/\(status)/content/application~1json/schema"
    }

    /// (type, openapi pointer, example).
    static var all: [(String, String, any Encodable)] {
        [
            (
                "Problem", "#/components/schemas/Problem",
                Problem(
                    type: "invalid-recipe", title: "Unprocessable Content", status: 422, detail: "bits must be 2 to 8",
                    field: "recipe.weights.bits")
            ),
            ("Model", "#/components/schemas/Model", model),
            ("ModelList", path("/v1/models", "get"), ModelList(models: [model])),
            (
                "TensorList", path("/v1/models/{id}/tensors", "get"),
                TensorList(modelId: model.id, tensors: [TensorInfo(name: "w", dtype: "F32", shape: [2, 3], bytes: 24)])
            ),
            ("Dataset", "#/components/schemas/Dataset", dataset),
            ("DatasetList", path("/v1/datasets", "get"), DatasetList(datasets: [dataset])),
            ("Job", "#/components/schemas/Job", job),
            ("JobPage", path("/v1/jobs", "get"), JobPage(jobs: [job], nextCursor: "job_0123456789abcdefghij")),
            ("JobSummary", "#/components/schemas/JobSummary", summary),
            ("ModelEvaluation", "#/components/schemas/ModelEvaluation", evaluation),
            ("TensorMetrics", "#/components/schemas/TensorReport", tensor),
            ("JobReport", path("/v1/jobs/{id}/report", "get"), report),
            ("JobRequest", "#/paths/~1v1~1jobs/post/requestBody/content/application~1json/schema", qatRequest),
            ("JobRequest", "#/paths/~1v1~1jobs/post/requestBody/content/application~1json/schema", evaluateRequest),
            ("JobRequest", "#/paths/~1v1~1jobs/post/requestBody/content/application~1json/schema", evaluateJobRequest),
        ]
    }

    /// Optional fields (Type.field) that are nil in every example, found by reflection.
    static func unset() -> [String] {
        var seen: [String: Bool] = [:]
        func walk(_ value: Any) {
            let mirror = Mirror(reflecting: value)
            switch mirror.displayStyle {
            case .struct:
                for child in mirror.children {
                    guard let label = child.label else { continue }
                    let name = "\(type(of: value)).\(label)"
                    let inner = Mirror(reflecting: child.value)
                    if inner.displayStyle == .optional {
                        if let wrapped = inner.children.first?.value {
                            seen[name] = true
                            walk(wrapped)
                        } else if seen[name] == nil {
                            seen[name] = false
                        }
                    } else {
                        walk(child.value)
                    }
                }
            case .collection: for child in mirror.children { walk(child.value) }
            default: break
            }
        }
        for (_, _, example) in all { walk(example) }
        return seen.filter { !$0.value }.map(\.key).sorted()
    }

    static func document() throws -> JSONValue {
        let examples = try all.map { type, pointer, example in
            JSONValue.object(
                JSONObject([
                    ("type", .string(type)), ("schema", .string(pointer)),
                    ("example", try StrictJSON.parse(String(decoding: WireCoding.encode(example), as: UTF8.self))),
                ]))
        }
        return .object(JSONObject([("examples", .array(examples)), ("unset", .array(unset().map(JSONValue.string)))]))
    }
}

struct WireExamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire-examples", abstract: "Every API type, every field set, beside its openapi.yaml schema (JSON).")
    func run() throws { print(try WireExamples.document().serialized) }
}
