import Int8Kernels
import ModelFormats

/// A calibration dataset: a safetensors file whose tensor `<layer>.input` (samples x in_features)
/// holds inputs seen by the linear layer whose weight is `<layer>.weight` (docs/CALIBRATION.md).
/// Memory-mapped; one layer's samples are decoded at a time.
public final class CalibrationDataset: Sendable {
    public static let inputSuffix = ".input"
    /// The widest layer input calibration takes: its Hessian holds in² floats (4 GiB at 32768).
    public static let maxFeatures = 32768
    /// Samples per layer (BLAS takes 32-bit dimensions; 2^20 samples is far more than calibration needs).
    public static let maxSamples = 1 << 20
    public let source: SourceModel
    /// Validated inputs by layer name (`<layer>` without the suffix).
    let inputs: [String: SourceTensor]

    public init(path: String) throws {
        if ImportanceMatrix.recognizes(path: path) {
            throw CalibrationError.invalidDataset(
                "this is a llama.cpp importance matrix: it weights the GGUF block types' search (dataset_id on a gguf spec), but holds no samples (`<layer>.input`) for GPTQ, AdaRound, static activations or evaluation"
            )
        }
        let model = try SourceModel(path: path)
        let layers = try Self.validate(model.tensors.map { ($0.name, $0.shape, $0.floatDType, model.format) })
        source = model
        inputs = layers.reduce(into: [:]) { map, layer in map[layer] = model.tensors.first { $0.name == layer + Self.inputSuffix }
        }
    }

    /// Checks what an upload must hold: safetensors with at least one `<layer>.input` tensor, each
    /// 2-D floating point with at least one sample. Returns the layer names. Errors say what to fix.
    @discardableResult
    public static func validate(_ tensors: [(name: String, shape: [Int], floatDType: DType?, format: ModelFormat)]) throws
        -> [String]
    {
        guard tensors.allSatisfy({ $0.format == .safetensors }) else {
            throw CalibrationError.invalidDataset("a dataset is a safetensors file of `<layer>.input` tensors, not GGUF")
        }
        var layers: [String] = []
        for tensor in tensors where tensor.name.hasSuffix(inputSuffix) {
            guard tensor.shape.count == 2, tensor.shape[0] > 0, tensor.shape[1] > 0 else {
                throw CalibrationError.invalidDataset(
                    "tensor '\(tensor.name)' has shape \(tensor.shape); layer inputs are [samples, in_features] with both above 0"
                )
            }
            guard tensor.shape[0] <= maxSamples, tensor.shape[1] <= maxFeatures else {
                throw CalibrationError.invalidDataset(
                    "tensor '\(tensor.name)' has shape \(tensor.shape); calibration takes at most \(maxSamples) samples of at most \(maxFeatures) features"
                )
            }
            guard tensor.floatDType != nil else {
                throw CalibrationError.invalidDataset(
                    "tensor '\(tensor.name)' is not floating point; store activations as F32, F16 or BF16")
            }
            layers.append(String(tensor.name.dropLast(inputSuffix.count)))
        }
        guard !layers.isEmpty else {
            throw CalibrationError.invalidDataset(
                "no tensor is named `<layer>.input`; name each layer's samples after its weight (`fc1.weight` -> `fc1.input`), or, for QAT, give `x` and `y`"
            )
        }
        return layers
    }

    /// What an upload to `/v1/datasets` may be: calibration samples (`<layer>.input`) or training data
    /// for QAT (`x` [samples, features] and `y` with as many rows).
    public static func validateUpload(_ tensors: [(name: String, shape: [Int], floatDType: DType?, format: ModelFormat)]) throws {
        if let x = tensors.first(where: { $0.name == "x" }), let y = tensors.first(where: { $0.name == "y" }) {
            guard x.format == .safetensors, x.shape.count == 2, x.floatDType != nil, x.shape[0] > 0, x.shape[1] > 0 else {
                throw CalibrationError.invalidDataset(
                    "training data `x` must be floating point [samples, features] in safetensors, got shape \(x.shape)")
            }
            guard (1...2).contains(y.shape.count), y.shape[0] == x.shape[0] else {
                throw CalibrationError.invalidDataset(
                    "training data `y` must have one row per sample of `x` (\(x.shape[0])), got shape \(y.shape)")
            }
            return
        }
        try validate(tensors)
    }

    public var layers: [String] { inputs.keys.sorted() }

    /// The layer of a weight name (`fc1.weight` -> `fc1`), when the dataset has samples for it.
    public func layer(ofWeight name: String) -> String? {
        guard name.hasSuffix(".weight") else { return nil }
        let layer = String(name.dropLast(".weight".count))
        return inputs[layer] == nil ? nil : layer
    }

    public func samples(of layer: String) -> Int { inputs[layer]?.shape[0] ?? 0 }
    public func features(of layer: String) -> Int { inputs[layer]?.shape[1] ?? 0 }

    /// The samples of one layer as a matrix (samples x in_features), decoded to fp32.
    public func inputs(of layer: String, kernels: Kernels = .best) throws -> Matrix {
        guard let tensor = inputs[layer] else { throw CalibrationError.invalidDataset("the dataset has no `\(layer).input`") }
        let scratch = ScratchBuffer<Float>(fill: 0)
        let values = try source.floats(of: tensor, 0..<tensor.elementCount, scratch: scratch, kernels: kernels)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw CalibrationError.invalidDataset(
                "`\(layer).input` holds a NaN or Inf (sample \(bad / tensor.shape[1])); remove it")
        }
        let matrix = Matrix(rows: tensor.shape[0], cols: tensor.shape[1], values: Array(values))
        source.release(tensor, elements: 0..<tensor.elementCount)
        return matrix
    }

    /// Pairs the dataset with a model: every `<layer>.input` whose `<layer>.weight` exists must have
    /// as many features as the weight has columns, and at least one layer must pair. Returns the
    /// paired layers.
    @discardableResult
    public func check(against model: SourceModel) throws -> [String] {
        var paired: [String] = []
        for layer in layers {
            guard let weight = model.tensors.first(where: { $0.name == layer + ".weight" }), let input = inputs[layer] else {
                continue
            }
            guard weight.shape.count == 2 else {
                throw CalibrationError.mismatch(
                    layer: layer,
                    "`\(layer).weight` has shape \(weight.shape); calibration pairs inputs with 2-D linear weights [out, in]")
            }
            guard weight.shape[0] <= Int(Int32.max) / Swift.max(input.shape[0], 1) else {
                throw CalibrationError.mismatch(
                    layer: layer,
                    "`\(layer).weight` has \(weight.shape[0]) outputs; with \(input.shape[0]) samples its outputs are too many to evaluate"
                )
            }
            guard weight.shape[1] == input.shape[1] else {
                throw CalibrationError.mismatch(
                    layer: layer,
                    "`\(layer).input` has \(input.shape[1]) features but `\(layer).weight` (shape \(weight.shape)) takes \(weight.shape[1]) inputs; capture the input of that layer"
                )
            }
            paired.append(layer)
        }
        guard !paired.isEmpty else {
            throw CalibrationError.mismatch(
                layer: layers.first ?? "",
                "no `<layer>.input` of the dataset matches a `<layer>.weight` of the model (dataset layers: \(layers.prefix(5).joined(separator: ", ")))"
            )
        }
        return paired
    }
}

public enum CalibrationError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidDataset(String)
    /// A dataset that does not fit the model, naming the layer.
    case mismatch(layer: String, String)
    case numerical(String)

    public var description: String {
        switch self {
        case .invalidDataset(let message): "calibration dataset: \(message)"
        case .mismatch(_, let message): "calibration dataset does not fit the model: \(message)"
        case .numerical(let message): "calibration: \(message)"
        }
    }
}
