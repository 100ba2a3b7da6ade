import Foundation

// The JSON shapes of API v1 (openapi.yaml) as the client reads them. Field names follow the wire
// (snake_case) through `JSONDecoder.KeyDecodingStrategy.convertFromSnakeCase`.

public struct Model: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var format: String
    public var size: Int64
    public var sha256: String
    public var tensorCount: Int
    public var parameterCount: Int64
    public var createdAt: String
}

public struct ModelList: Codable, Sendable {
    public var models: [Model]
}

public struct JobProgress: Codable, Sendable, Equatable {
    public var done: Int64
    public var total: Int64
    public var fraction: Double
}

public struct JobError: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
}

public struct ArtifactInfo: Codable, Sendable, Equatable {
    public var size: Int64
    public var sha256: String
    /// "tar" for a Hugging Face folder sent as one archive (files plus SHA256SUMS).
    public var archive: String?
    public var expiresAt: String?
    public var available: Bool
}

/// The report summary: sizes, bits per weight, SQNR and time of the whole model.
public struct JobSummary: Codable, Sendable, Equatable {
    public var tensors: Int?
    public var tensorsQuantized: Int?
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
    public var outputFormat: String?
    /// What the model lost on the recipe's evaluation text: perplexity_original and _quantized,
    /// kl_divergence_mean and _p99, top1_agreement (decoders); embedding_cosine_mean and _min (encoders).
    public var evaluation: [String: Double]?
}

public struct Job: Codable, Sendable, Equatable {
    public var id: String
    public var modelId: String
    /// The calibration dataset the recipe names, if any (QAT: the training data).
    public var datasetId: String?
    /// "qat" for quantization-aware training jobs; absent for quantize jobs.
    public var kind: String?
    public var name: String?
    public var status: String
    public var progress: JobProgress
    public var attempt: Int
    public var maxAttempts: Int
    public var createdAt: String
    public var startedAt: String?
    public var finishedAt: String?
    public var updatedAt: String
    public var error: JobError?
    public var summary: JobSummary?
    public var artifact: ArtifactInfo?

    public var isTerminal: Bool { ["succeeded", "failed", "cancelled"].contains(status) }
}

public struct JobPage: Codable, Sendable {
    public var jobs: [Job]
    public var nextCursor: String?
}

public struct TensorMetrics: Codable, Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var dtype: String
    public var method: String
    public var bits: Int?
    public var bytesIn: Int64
    public var bytesOut: Int64
    public var bitsPerWeight: Double
    public var mse: Double?
    public var sqnrDb: Double?
    public var maxAbsError: Double?
    public var cosine: Double?
    /// With a calibration dataset: the layer's evaluation on its inputs.
    public var calibration: LayerCalibration?
}

/// A layer's evaluation on its calibration inputs (docs/CALIBRATION.md).
public struct LayerCalibration: Codable, Sendable, Equatable {
    public struct OutputSQNR: Codable, Sendable, Equatable {
        public var weightOnly: Double?
        public var weightOnlyNearest: Double?
        public var w8a8Static: Double?
        public var w8a8Dynamic: Double?
    }

    public var samples: Int
    public var rounding: String
    public var outputSqnrDb: OutputSQNR
    public var staticCalibrator: String
    public var inputScale: Double?
    public var inputZeroPoint: Int
    public var fp32GemmMs: Double?
    public var int8GemmMs: Double?
    public var int8Speedup: Double?
}

/// An uploaded calibration dataset.
public struct Dataset: Codable, Sendable, Equatable {
    public struct Layer: Codable, Sendable, Equatable {
        public var name: String
        public var samples: Int
        public var features: Int
    }

    public var id: String
    public var name: String
    public var size: Int64
    public var sha256: String
    public var tensorCount: Int
    public var createdAt: String
    /// A llama.cpp importance matrix uploaded as a dataset: its file's format and contents.
    public struct ImportanceMatrix: Codable, Sendable, Equatable {
        public var format: String
        public var entries: Int
        public var datasets: [String]
        public var chunks: Int
    }

    /// Only in `GET /v1/datasets/{id}`.
    public var layers: [Layer]?
    /// Only in `GET /v1/datasets/{id}`, for an importance matrix.
    public var importanceMatrix: ImportanceMatrix?
}

public struct DatasetList: Codable, Sendable {
    public var datasets: [Dataset]
}

public struct JobReport: Codable, Sendable {
    public var jobId: String
    public var kind: String?
    public var summary: JobSummary?
    public var tensors: [TensorMetrics]
    /// QAT jobs: the evaluation and every epoch's metrics.
    public var training: TrainingReport?
}

public struct TrainingReport: Codable, Sendable, Equatable {
    public struct Evaluation: Codable, Sendable, Equatable {
        public var fp32Accuracy: Double?
        public var ptqAccuracy: Double?
        public var qatAccuracy: Double?
        public var fp32Loss: Double?
        public var ptqLoss: Double?
        public var qatLoss: Double?
    }

    public struct Epoch: Codable, Sendable, Equatable {
        public var epoch: Int
        public var trainLoss: Double?
        public var validationLoss: Double?
        public var validationAccuracy: Double?
        public var seconds: Double?
    }

    public var evaluation: Evaluation?
    public var epochs: [Epoch]
}

public struct TensorInfo: Codable, Sendable, Equatable {
    public var name: String
    public var dtype: String
    public var shape: [Int]
    public var bytes: Int64
}

public struct TensorList: Codable, Sendable {
    public var tensors: [TensorInfo]
}
