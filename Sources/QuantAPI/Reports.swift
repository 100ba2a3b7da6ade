import JSON

/// A finished job's summary: sizes, bits per weight, SQNR and time of the whole model, and what the
/// model lost on text when the recipe asked (docs/REPORTS.md). An evaluate job's summary holds only
/// `evaluation` and `candidate`.
public struct JobSummary: Codable, Sendable, Equatable {
    public var tensors: Int?
    public var tensorsQuantized: Int?
    public var tensorsKept: Int?
    public var parameters: Int64?
    public var bytesIn: Int64?
    public var bytesOut: Int64?
    public var fileBytesIn: Int64?
    public var fileBytesOut: Int64?
    public var compressionRatio: Double?
    public var bitsPerWeight: Double?
    public var meanSqnrDb: Double?
    public var minSqnrDb: Double?
    public var worstTensor: String?
    public var durationSeconds: Double?
    public var inputFormat: String?
    public var outputFormat: String?
    /// The choice per tensor within the bit budget (docs/RECIPES.md).
    public var mixedPrecision: JSONValue?
    /// The calibration dataset and what it was used for (docs/CALIBRATION.md).
    public var calibration: JSONValue?
    public var evaluation: ModelEvaluation?
    /// QAT jobs: the evaluation (fp32, PTQ, QAT), the training time and the epoch count.
    public var training: JSONValue?
    /// Evaluate jobs: the model compared with the job's model.
    public var candidate: JobRequest.Candidate?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case tensors, parameters, calibration, evaluation, training, candidate
        case tensorsQuantized = "tensors_quantized"
        case tensorsKept = "tensors_kept"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case fileBytesIn = "file_bytes_in"
        case fileBytesOut = "file_bytes_out"
        case compressionRatio = "compression_ratio"
        case bitsPerWeight = "bits_per_weight"
        case meanSqnrDb = "mean_sqnr_db"
        case minSqnrDb = "min_sqnr_db"
        case worstTensor = "worst_tensor"
        case durationSeconds = "duration_seconds"
        case inputFormat = "input_format"
        case outputFormat = "output_format"
        case mixedPrecision = "mixed_precision"
    }
}

/// What the model lost on the evaluation text: a decoder's perplexity (original and quantized), KL
/// divergence and top-1 agreement; an encoder's embedding cosine (docs/MODELS.md).
public struct ModelEvaluation: Codable, Sendable, Equatable {
    public var chunks: Int?
    public var context: Int?
    public var tokensScored: Int?
    public var perplexityOriginal: Double?
    public var perplexityQuantized: Double?
    public var klDivergenceMean: Double?
    public var klDivergenceP99: Double?
    public var top1Agreement: Double?
    public var texts: Int?
    public var embeddingCosineMean: Double?
    public var embeddingCosineMin: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case chunks, context, texts
        case tokensScored = "tokens_scored"
        case perplexityOriginal = "perplexity_original"
        case perplexityQuantized = "perplexity_quantized"
        case klDivergenceMean = "kl_divergence_mean"
        case klDivergenceP99 = "kl_divergence_p99"
        case top1Agreement = "top1_agreement"
        case embeddingCosineMean = "embedding_cosine_mean"
        case embeddingCosineMin = "embedding_cosine_min"
    }
}

/// One tensor of a job's report (`TensorReport` in openapi.yaml).
public struct TensorMetrics: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var dtype: String
    /// linear, gguf, copy, binary, ternary, float, mx or kmeans.
    public var method: String
    public var bits: Int?
    /// The GGUF block type or the float format, for those methods.
    public var type: String?
    public var granularity: String?
    /// The axis of per-channel scales.
    public var axis: Int?
    public var groupSize: Int?
    public var bytesIn: Int64
    public var bytesOut: Int64
    public var bitsPerWeight: Double
    public var mse: Double?
    public var sqnrDb: Double?
    public var maxAbsError: Double?
    public var cosine: Double?
    public var seconds: Double?
    /// Scales as powers of two (a fixed-point format, e.g. "Q1.6").
    public var fixedPoint: String?
    /// The scale scheme of a linear tensor (symmetric, asymmetric, two-level).
    public var scheme: String?
    /// With a calibration dataset: the layer's evaluation on its inputs.
    public var calibration: LayerCalibration?
    /// Why a tensor was kept or treated specially.
    public var note: String?

    public init(name: String, shape: [Int], dtype: String, method: String, bytesIn: Int64, bytesOut: Int64, bitsPerWeight: Double)
    {
        (self.name, self.shape, self.dtype, self.method, self.bytesIn, self.bytesOut, self.bitsPerWeight) = (
            name, shape, dtype, method, bytesIn, bytesOut, bitsPerWeight
        )
    }

    enum CodingKeys: String, CodingKey {
        case name, shape, dtype, method, bits, type, granularity, axis, mse, cosine, seconds, scheme, calibration, note
        case groupSize = "group_size"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case bitsPerWeight = "bits_per_weight"
        case sqnrDb = "sqnr_db"
        case maxAbsError = "max_abs_error"
        case fixedPoint = "fixed_point"
    }
}

/// What calibration did for one tensor (docs/CALIBRATION.md), in one of three shapes: a layer's
/// evaluation on its inputs (samples, rounding, output SQNR, W8A8, GEMM times); an importance matrix
/// entry (rounding, importance_entry); or AWQ (method "awq", input, samples, scaled, ratio, output
/// SQNR before and after the scales).
public struct LayerCalibration: Codable, Sendable, Equatable {
    public struct OutputSQNR: Codable, Sendable, Equatable {
        public var weightOnly: Double?
        public var weightOnlyNearest: Double?
        public var w8a8Static: Double?
        public var w8a8Dynamic: Double?
        /// AWQ: round-to-nearest before and after the searched scales.
        public var before: Double?
        public var after: Double?

        public init(
            weightOnly: Double? = nil, weightOnlyNearest: Double? = nil, w8a8Static: Double? = nil, w8a8Dynamic: Double? = nil,
            before: Double? = nil, after: Double? = nil
        ) {
            (self.weightOnly, self.weightOnlyNearest, self.w8a8Static, self.w8a8Dynamic, self.before, self.after) = (
                weightOnly, weightOnlyNearest, w8a8Static, w8a8Dynamic, before, after
            )
        }

        enum CodingKeys: String, CodingKey {
            case before, after
            case weightOnly = "weight_only"
            case weightOnlyNearest = "weight_only_nearest"
            case w8a8Static = "w8a8_static"
            case w8a8Dynamic = "w8a8_dynamic"
        }
    }

    public var samples: Int?
    /// nearest, gptq, adaround, n/a, or importance-weighted (llama.cpp importance matrix).
    public var rounding: String?
    public var outputSqnrDb: OutputSQNR?
    public var staticCalibrator: String?
    public var inputScale: Double?
    public var inputZeroPoint: Int?
    public var fp32GemmMs: Double?
    public var int8GemmMs: Double?
    public var int8Speedup: Double?
    /// The importance matrix entry used (its llama.cpp tensor name).
    public var importanceEntry: String?
    /// "awq" for activation-aware scales.
    public var method: String?
    /// AWQ: the layer input the scales were searched on.
    public var input: String?
    /// AWQ: whether scales were folded in (false when none beat no scaling).
    public var scaled: Bool?
    /// AWQ: the chosen exponent of the activation statistics.
    public var ratio: Double?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case samples, rounding, method, input, scaled, ratio
        case outputSqnrDb = "output_sqnr_db"
        case staticCalibrator = "static_calibrator"
        case inputScale = "input_scale"
        case inputZeroPoint = "input_zero_point"
        case fp32GemmMs = "fp32_gemm_ms"
        case int8GemmMs = "int8_gemm_ms"
        case int8Speedup = "int8_speedup"
        case importanceEntry = "importance_entry"
    }
}

/// `GET /v1/jobs/{id}/report`.
public struct JobReport: Codable, Sendable, Equatable {
    public var jobId: String
    public var kind: String
    public var summary: JobSummary?
    public var tensors: [TensorMetrics]
    /// QAT jobs: the request, the evaluation and every epoch's metrics.
    public var training: TrainingReport?
    /// Recipes with an evaluation, and evaluate jobs.
    public var evaluation: ModelEvaluation?

    public init(
        jobId: String, kind: String, summary: JobSummary?, tensors: [TensorMetrics], training: TrainingReport? = nil,
        evaluation: ModelEvaluation? = nil
    ) {
        (self.jobId, self.kind, self.summary, self.tensors, self.training, self.evaluation) = (
            jobId, kind, summary, tensors, training, evaluation
        )
    }

    enum CodingKeys: String, CodingKey {
        case kind, summary, tensors, training, evaluation
        case jobId = "job_id"
    }
}

/// A QAT job's training (docs/QAT.md).
public struct TrainingReport: Codable, Sendable, Equatable {
    public struct Evaluation: Codable, Sendable, Equatable {
        public var fp32Accuracy: Double?
        public var ptqAccuracy: Double?
        public var qatAccuracy: Double?
        public var fp32Loss: Double?
        public var ptqLoss: Double?
        public var qatLoss: Double?

        public init(
            fp32Accuracy: Double?, ptqAccuracy: Double?, qatAccuracy: Double?, fp32Loss: Double?, ptqLoss: Double?,
            qatLoss: Double?
        ) {
            (self.fp32Accuracy, self.ptqAccuracy, self.qatAccuracy, self.fp32Loss, self.ptqLoss, self.qatLoss) = (
                fp32Accuracy, ptqAccuracy, qatAccuracy, fp32Loss, ptqLoss, qatLoss
            )
        }

        enum CodingKeys: String, CodingKey {
            case fp32Accuracy = "fp32_accuracy"
            case ptqAccuracy = "ptq_accuracy"
            case qatAccuracy = "qat_accuracy"
            case fp32Loss = "fp32_loss"
            case ptqLoss = "ptq_loss"
            case qatLoss = "qat_loss"
        }
    }

    public struct Epoch: Codable, Sendable, Equatable {
        public var epoch: Int
        public var trainLoss: Double?
        public var validationLoss: Double?
        public var validationAccuracy: Double?
        public var seconds: Double?

        public init(epoch: Int, trainLoss: Double?, validationLoss: Double?, validationAccuracy: Double?, seconds: Double?) {
            (self.epoch, self.trainLoss, self.validationLoss, self.validationAccuracy, self.seconds) = (
                epoch, trainLoss, validationLoss, validationAccuracy, seconds
            )
        }

        enum CodingKeys: String, CodingKey {
            case epoch, seconds
            case trainLoss = "train_loss"
            case validationLoss = "validation_loss"
            case validationAccuracy = "validation_accuracy"
        }
    }

    /// The training request as submitted.
    public var request: JSONValue?
    public var evaluation: Evaluation?
    public var epochs: [Epoch]

    public init(request: JSONValue?, evaluation: Evaluation?, epochs: [Epoch]) {
        (self.request, self.evaluation, self.epochs) = (request, evaluation, epochs)
    }

    enum CodingKeys: String, CodingKey {
        case request, evaluation, epochs
    }
}
