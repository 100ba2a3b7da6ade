import Foundation
import Int8Kernels
import ModelFormats

/// The networks QAT trains: linear layers `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out],
/// one activation (ReLU or GELU) between layers and none after the last. Weights are the fp32 masters.
struct FeedForwardNetwork {
    var weights: [Matrix]
    var biases: [[Float]]
    let activation: TrainingSpec.Activation
    let loss: TrainingSpec.Loss
    /// The model file's metadata, kept for the trained model.
    let metadata: [(key: String, value: String)]

    var layerCount: Int { weights.count }
    var inputs: Int { weights[0].cols }
    var outputs: Int { weights[weights.count - 1].rows }
    static func weightName(_ i: Int) -> String { "layers.\(i).weight" }
    static func biasName(_ i: Int) -> String { "layers.\(i).bias" }

    static let scope =
        "QAT trains feed-forward networks: safetensors with only `layers.{i}.weight` [out, in] and `layers.{i}.bias` [out] (i = 0, 1, ...), each layer's inputs the previous one's outputs"

    static func load(_ source: SourceModel, spec: TrainingSpec, kernels: Kernels) throws -> FeedForwardNetwork {
        guard case .safetensors(let file) = source.model else { throw TrainingError.invalidModel("\(scope); this model is GGUF") }
        let count = source.tensors.count / 2
        let expected = Set((0..<count).flatMap { [weightName($0), biasName($0)] })
        guard count > 0, source.tensors.count % 2 == 0, Set(source.tensors.map(\.name)) == expected else {
            let stray = source.tensors.map(\.name).first { !expected.contains($0) } ?? "a missing weight or bias"
            throw TrainingError.invalidModel("\(scope); found \(stray)")
        }
        var weights: [Matrix] = []
        var biases: [[Float]] = []
        let scratch = ScratchBuffer<Float>(fill: 0)
        for i in 0..<count {
            let w = source.tensors.first { $0.name == weightName(i) }!
            let b = source.tensors.first { $0.name == biasName(i) }!
            guard w.shape.count == 2, b.shape == [w.shape[0]], w.floatDType != nil, b.floatDType != nil, w.elementCount > 0 else {
                throw TrainingError.invalidModel(
                    "layer \(i): weight \(w.shape) and bias \(b.shape) must be floating point [out, in] and [out]")
            }
            if i > 0, w.shape[1] != weights[i - 1].rows {
                throw TrainingError.invalidModel(
                    "layer \(i) takes \(w.shape[1]) inputs but layer \(i - 1) gives \(weights[i - 1].rows) outputs")
            }
            let values = Array(try source.floats(of: w, 0..<w.elementCount, scratch: scratch, kernels: kernels))
            guard values.allSatisfy(\.isFinite) else { throw TrainingError.invalidModel("\(w.name) holds NaN or Inf") }
            weights.append(Matrix(rows: w.shape[0], cols: w.shape[1], values: values))
            biases.append(Array(try source.floats(of: b, 0..<b.elementCount, scratch: scratch, kernels: kernels)))
        }
        func named<T: RawRepresentable & CaseIterable>(_ key: String, _ given: T?, _: T.Type) throws -> T
        where T.RawValue == String {
            if let given { return given }
            guard let text = file.metadata.first(where: { $0.key == key })?.value else {
                throw TrainingError.unsupported(
                    "training.\(key)",
                    "the model's metadata names no \(key); give one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let value = T(rawValue: text) else {
                throw TrainingError.unsupported(
                    "training.\(key)",
                    "the model's metadata says \(key) '\(text)'; supported: \(T.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            return value
        }
        return FeedForwardNetwork(
            weights: weights, biases: biases, activation: try named("activation", spec.activation, TrainingSpec.Activation.self),
            loss: try named("loss", spec.loss, TrainingSpec.Loss.self), metadata: file.metadata)
    }

    /// The network as a safetensors model (F32), the original metadata kept.
    func write(to path: String) throws {
        var specs: [TensorSpec] = []
        for i in 0..<layerCount {
            specs.append(TensorSpec(name: Self.weightName(i), dtype: .f32, shape: [weights[i].rows, weights[i].cols]))
            specs.append(TensorSpec(name: Self.biasName(i), dtype: .f32, shape: [biases[i].count]))
        }
        let writer = try SafetensorsWriter(path: path, tensors: specs, metadata: metadata)
        for i in 0..<layerCount {
            try writer.write(try FloatCodec.fromFloat32(.f32, weights[i].values))
            try writer.write(try FloatCodec.fromFloat32(.f32, biases[i]))
        }
        try writer.finish()
    }

    // MARK: - Activation functions

    func activate(_ z: Float) -> Float {
        switch activation {
        case .relu: return Swift.max(z, 0)
        case .gelu: return 0.5 * z * (1 + tanh(0.797_884_6 * (z + 0.044715 * z * z * z)))
        }
    }

    func derivative(_ z: Float) -> Float {
        switch activation {
        case .relu: return z > 0 ? 1 : 0
        case .gelu:
            let inner = 0.797_884_6 * (z + 0.044715 * z * z * z)
            let t = tanh(inner)
            return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * 0.797_884_6 * (1 + 3 * 0.044715 * z * z)
        }
    }
}

/// Training data: `x` [samples, features] and `y`: class indices [samples] (integers) for softmax
/// cross-entropy, targets [samples, outputs] (or [samples] for one output) for MSE.
struct TrainingData {
    /// The most values of `x` QAT takes (it holds them in memory).
    static let maxValues = 1 << 28
    let x: Matrix
    /// Class index per sample (cross-entropy).
    let labels: [Int]
    /// Targets (MSE), samples x outputs.
    let targets: Matrix?

    static func load(_ path: String, network: FeedForwardNetwork, kernels: Kernels) throws -> TrainingData {
        let source = try SourceModel(path: path)
        guard let xt = source.tensors.first(where: { $0.name == "x" }), let yt = source.tensors.first(where: { $0.name == "y" })
        else {
            throw TrainingError.invalidData(
                "a QAT dataset holds `x` [samples, features] and `y` (class indices, or targets for mse)")
        }
        guard xt.shape.count == 2, xt.shape[0] >= 2, xt.floatDType != nil else {
            throw TrainingError.invalidData(
                "`x` must be floating point [samples, features] with 2 samples or more, got \(xt.dtypeName) \(xt.shape)")
        }
        guard xt.shape[1] == network.inputs else {
            throw TrainingError.invalidData("`x` has \(xt.shape[1]) features but layers.0.weight takes \(network.inputs) inputs")
        }
        let samples = xt.shape[0]
        guard xt.elementCount <= maxValues else {
            throw TrainingError.invalidData(
                "`x` holds \(xt.elementCount) values; QAT keeps its data in memory and takes at most \(maxValues) (1 GiB of floats)"
            )
        }
        let scratch = ScratchBuffer<Float>(fill: 0)
        let xValues = Array(try source.floats(of: xt, 0..<xt.elementCount, scratch: scratch, kernels: kernels))
        guard xValues.allSatisfy(\.isFinite) else { throw TrainingError.invalidData("`x` holds NaN or Inf") }
        let x = Matrix(rows: samples, cols: xt.shape[1], values: xValues)
        switch network.loss {
        case .softmaxCrossEntropy:
            guard yt.shape == [samples], case .safetensors(let dtype) = yt.storage, !dtype.isFloatingPoint, dtype != .bool else {
                throw TrainingError.invalidData(
                    "for softmax_cross_entropy, `y` holds one integer class index per sample: shape [\(samples)], got \(yt.dtypeName) \(yt.shape)"
                )
            }
            let labels = try integers(source.bytes(of: yt), dtype: dtype, count: samples)
            if let bad = labels.first(where: { $0 < 0 || $0 >= network.outputs }) {
                throw TrainingError.invalidData(
                    "`y` holds class \(bad); the network has \(network.outputs) outputs (classes 0 to \(network.outputs - 1))")
            }
            return TrainingData(x: x, labels: labels, targets: nil)
        case .mse:
            guard yt.floatDType != nil, yt.shape == [samples, network.outputs] || (network.outputs == 1 && yt.shape == [samples])
            else {
                throw TrainingError.invalidData(
                    "for mse, `y` holds floating point targets [\(samples), \(network.outputs)], got \(yt.dtypeName) \(yt.shape)")
            }
            let values = Array(try source.floats(of: yt, 0..<yt.elementCount, scratch: scratch, kernels: kernels))
            guard values.allSatisfy(\.isFinite) else { throw TrainingError.invalidData("`y` holds NaN or Inf") }
            return TrainingData(x: x, labels: [], targets: Matrix(rows: samples, cols: network.outputs, values: values))
        }
    }

    /// Little-endian integers of any width.
    static func integers(_ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int) throws -> [Int] {
        let width = dtype.bitWidth / 8
        guard bytes.count >= count * width else { throw TrainingError.invalidData("`y` is shorter than its shape") }
        let signed = [DType.i8, .i16, .i32, .i64].contains(dtype)
        return (0..<count).map { i in
            var value: UInt64 = 0
            for b in 0..<width { value |= UInt64(bytes[i * width + b]) << (8 * b) }
            if signed, width < 8, value & (1 << (width * 8 - 1)) != 0 { value |= ~0 << (width * 8) }
            return Int(truncatingIfNeeded: Int64(bitPattern: value))
        }
    }

    /// Rows `indices` of a matrix.
    static func rows(_ m: Matrix, _ indices: ArraySlice<Int>) -> Matrix {
        var values = [Float]()
        values.reserveCapacity(indices.count * m.cols)
        for i in indices { values.append(contentsOf: m.values[(i * m.cols)..<((i + 1) * m.cols)]) }
        return Matrix(rows: indices.count, cols: m.cols, values: values)
    }
}
