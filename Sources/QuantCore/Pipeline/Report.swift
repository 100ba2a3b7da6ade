import Foundation
import JSON
import ModelFormats

/// What quantizing one tensor cost and gave.
public struct TensorReport: Sendable {
    public var name: String
    public var shape: [Int]
    public var dtype: String
    /// "linear", "gguf" or "copy".
    public var method: String
    public var bits: Int?
    public var type: String?
    public var granularity: String?
    public var axis: Int?
    public var groupSize: Int?
    public var bytesIn: Int
    public var bytesOut: Int
    public var metrics: ErrorMetrics?
    public var seconds: Double
    public var note: String?
    /// For power-of-two scales: the fixed-point format(s) of the codes, e.g. "Q1.6".
    public var fixedPoint: String? = nil
    /// With mixed precision: the candidate chosen for this tensor.
    public var scheme: String? = nil
    /// With a calibration dataset: the layer's output errors, W8A8 results and int8 speed.
    public var calibration: JSONValue? = nil

    public var elementCount: Int { shape.reduce(1, *) }

    mutating func describe(method: String, type: String? = nil, bits: Int) {
        (self.method, self.type, self.bits) = (method, type, bits)
    }

    /// One scale (or codebook) per tensor, or per output channel (axis 0).
    mutating func setScales(perChannel: Bool) {
        granularity = perChannel ? "channel" : "tensor"
        axis = perChannel ? 0 : nil
    }

    /// One scale per group of `size` values along a row.
    mutating func setGroups(of size: Int) {
        granularity = "group"
        groupSize = size
    }

    mutating func setGranularity(_ granularity: Granularity) {
        switch granularity {
        case .tensor: setScales(perChannel: false)
        case .channel(let axis):
            self.granularity = "channel"
            self.axis = axis
        case .group(let size): setGroups(of: size)
        }
    }
    /// Stored bits per weight, scales and zero points included.
    public var bitsPerWeight: Double { elementCount == 0 ? 0 : Double(bytesOut * 8) / Double(elementCount) }
    public var quantized: Bool { method != "copy" }

    public var json: JSONValue {
        var object = JSONObject([
            ("name", .string(name)), ("shape", .array(shape.map { .integer($0) })), ("dtype", .string(dtype)),
            ("method", .string(method)),
        ])
        object["bits"] = bits.map { .integer($0) } ?? .null
        if let type { object["type"] = .string(type) }
        object["granularity"] = granularity.map { .string($0) } ?? .null
        if let axis { object["axis"] = .integer(axis) }
        object["group_size"] = groupSize.map { .integer($0) } ?? .null
        object["bytes_in"] = .integer(bytesIn)
        object["bytes_out"] = .integer(bytesOut)
        object["bits_per_weight"] = Report.number(bitsPerWeight)
        object["mse"] = metrics.map { Report.number($0.mse) } ?? .null
        object["sqnr_db"] = metrics.map { Report.number($0.sqnrDB) } ?? .null
        object["max_abs_error"] = metrics.map { Report.number(Double($0.maxAbsError)) } ?? .null
        object["cosine"] = metrics.map { Report.number($0.cosine) } ?? .null
        object["seconds"] = Report.number(seconds)
        if let fixedPoint { object["fixed_point"] = .string(fixedPoint) }
        if let scheme { object["scheme"] = .string(scheme) }
        if let calibration { object["calibration"] = calibration }
        if let note { object["note"] = .string(note) }
        return .object(object)
    }
}

/// The report of a quantization: one entry per tensor and a summary.
public struct Report: Sendable {
    public var tensors: [TensorReport] = []
    public var recipe: JSONValue
    public var inputFormat: String
    public var outputFormat: String
    public var fileBytesIn: Int
    public var fileBytesOut: Int = 0
    /// The artifact's hex SHA-256, taken as it was written (with `PipelineOptions.hashArtifact`).
    public var artifactSHA256: String?
    public var seconds: Double = 0
    /// With mixed precision: the budget, the bits used and the choice per tensor.
    public var mixedPrecision: JSONValue? = nil
    /// With a calibration dataset: layers evaluated and the int8 against fp32 GEMM time.
    public var calibration: JSONValue? = nil
    /// QAT jobs: the training spec, per-epoch metrics and the fp32 / PTQ / QAT evaluation.
    public var training: JSONValue? = nil
    /// What the model lost, measured on text after quantizing (`recipe.evaluation`).
    public var evaluation: JSONValue? = nil

    public var quantized: [TensorReport] { tensors.filter(\.quantized) }
    public var bytesIn: Int { tensors.reduce(0) { $0 + $1.bytesIn } }
    public var bytesOut: Int { tensors.reduce(0) { $0 + $1.bytesOut } }
    /// Finite SQNRs of the quantized tensors (an exact tensor has +Inf and is left out).
    var finiteSQNRs: [(String, Double)] {
        quantized.compactMap { t in t.metrics.map { (t.name, $0.sqnrDB) } }.filter { $0.1.isFinite }
    }

    public var json: JSONValue {
        let sqnrs = finiteSQNRs
        let worst = sqnrs.min { $0.1 < $1.1 }
        let parameters = tensors.reduce(0) { $0 + $1.elementCount }
        var summary = JSONObject([
            ("tensors", .integer(tensors.count)),
            ("tensors_quantized", .integer(quantized.count)),
            ("tensors_kept", .integer(tensors.count - quantized.count)),
            ("parameters", .integer(parameters)),
            ("bytes_in", .integer(bytesIn)),
            ("bytes_out", .integer(bytesOut)),
            ("file_bytes_in", .integer(fileBytesIn)),
            ("file_bytes_out", .integer(fileBytesOut)),
            ("compression_ratio", Report.number(bytesOut == 0 ? 0 : Double(bytesIn) / Double(bytesOut))),
            ("bits_per_weight", Report.number(parameters == 0 ? 0 : Double(bytesOut * 8) / Double(parameters))),
            ("mean_sqnr_db", sqnrs.isEmpty ? .null : Report.number(sqnrs.map(\.1).reduce(0, +) / Double(sqnrs.count))),
            ("min_sqnr_db", worst.map { Report.number($0.1) } ?? .null),
            ("worst_tensor", worst.map { .string($0.0) } ?? .null),
            ("duration_seconds", Report.number(seconds)),
            ("input_format", .string(inputFormat)),
            ("output_format", .string(outputFormat)),
        ])
        if let mixedPrecision {
            summary["mixed_precision"] = mixedPrecision
        }
        if let calibration { summary["calibration"] = calibration }
        if let evaluation { summary["evaluation"] = evaluation }
        if let training = training?.objectValue {
            // The evaluation travels with the job's summary; the epochs are stored row by row.
            summary["training"] = .object(
                JSONObject([
                    ("evaluation", training["evaluation"] ?? .null), ("seconds", training["seconds"] ?? .null),
                    ("epochs", .integer(training["epochs"]?.arrayValue?.count ?? 0)),
                ]))
        }
        var report = JSONObject([
            ("format", .string("quantservice-report/1")), ("recipe", recipe), ("summary", .object(summary)),
            ("tensors", .array(tensors.map(\.json))),
        ])
        if let training { report["training"] = training }
        if let evaluation { report["evaluation"] = evaluation }
        return .object(report)
    }

    /// JSON has no Inf or NaN: those become null (an exact reconstruction has SQNR null).
    static func number(_ value: Double) -> JSONValue { .number(value, significantDigits: 6) }

    /// A short human summary for the CLI.
    public var text: String {
        let sqnrs = finiteSQNRs
        let mean = sqnrs.isEmpty ? "n/a" : String(format: "%.2f dB", sqnrs.map(\.1).reduce(0, +) / Double(sqnrs.count))
        let worst = sqnrs.min { $0.1 < $1.1 }
        var out = "quantized \(quantized.count) of \(tensors.count) tensors in \(String(format: "%.2f", seconds)) s\n"
        out +=
            "size: \(bytesIn) -> \(bytesOut) bytes (\(String(format: "%.2f", bytesOut == 0 ? 0 : Double(bytesIn) / Double(bytesOut)))x)\n"
        out += "SQNR: mean \(mean)"
        if let worst { out += ", worst \(String(format: "%.2f", worst.1)) dB (\(worst.0))" }
        return out + "\n"
    }
}
