import Foundation
import Int8Kernels
import ModelFormats
import QuantTesting
import Testing

@testable import QuantCore

/// Quantization-aware training (docs/QAT.md): the forward pass quantizes exactly as the pipeline,
/// the backward pass is the true gradient (checked against finite differences), and runs repeat.
@Suite("QAT")
struct QATTests {
    static func weights(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix {
        var rng = SplitMix64(seed: seed)
        return Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in CalibrationTests.normal(&rng) * 0.3 })
    }

    /// The forward pass's weights are, bit for bit, what the artifact dequantizes to.
    @Test(arguments: [
        #"{"weights": {"bits": 4, "granularity": "group", "group_size": 16, "scale_dtype": "F16"}}"#,
        #"{"weights": {"bits": 3, "symmetric": false, "granularity": "channel"}}"#,
        #"{"weights": {"bits": 2, "granularity": "tensor"}}"#,
        #"{"weights": {"bits": 8, "granularity": "channel", "clipping": {"method": "mse"}}}"#,
        #"{"preset": "binary"}"#, #"{"preset": "ternary"}"#,
    ])
    func fakeQuantizationIsTheArtifact(recipeText: String) throws {
        let dir = try temporaryDirectory()
        let w = Self.weights(24, 48, seed: 1)
        let model = dir.appendingPathComponent("m.safetensors").path
        let out = dir.appendingPathComponent("q.safetensors").path
        let back = dir.appendingPathComponent("b.safetensors").path
        try writeModel(model, [("layers.0.weight", [24, 48], w.values)])
        let recipe = try Recipe.parse(recipeText)
        _ = try Pipeline.run(input: model, output: out, recipe: recipe)
        try Dequantizer.run(input: out, output: back)
        let restored = try SafetensorsFile(path: back).tensor(named: "layers.0.weight").floats()
        let fake = try FakeQuantizer(recipe.weights(for: "layers.0.weight")).apply(w, kernels: .best, name: "layers.0.weight")
        #expect(fake.values.values == restored)
    }

    static func network(activation: TrainingSpec.Activation, loss: TrainingSpec.Loss) -> FeedForwardNetwork {
        FeedForwardNetwork(
            weights: [weights(6, 5, seed: 2), weights(4, 6, seed: 3), weights(3, 4, seed: 4)],
            biases: [[0.1, -0.2, 0.05, 0, 0.3, -0.1], [0.02, -0.03, 0.1, 0], [0, 0.1, -0.1]],
            activation: activation, loss: loss, metadata: [("activation", activation.rawValue), ("loss", loss.rawValue)])
    }

    /// Backpropagation against central differences of the loss, for each activation and loss.
    @Test(arguments: [
        (TrainingSpec.Activation.relu, TrainingSpec.Loss.softmaxCrossEntropy), (.gelu, .mse), (.gelu, .softmaxCrossEntropy),
    ])
    func gradientsMatchFiniteDifferences(activation: TrainingSpec.Activation, loss: TrainingSpec.Loss) {
        var network = Self.network(activation: activation, loss: loss)
        let x = Self.weights(7, 5, seed: 5)
        let data = TrainingData(x: x, labels: [0, 1, 2, 1, 0, 2, 2], targets: loss == .mse ? Self.weights(7, 3, seed: 6) : nil)
        let batch = Array(0..<7)[...]
        func lossValue(_ n: FeedForwardNetwork) -> Double {
            var ranges = ActivationRanges(layers: 3)
            return Forward(network: n, weights: n.weights, x: x, quantization: nil, ranges: &ranges, training: false)
                .lossAndAccuracy(data: data, batch: batch).loss
        }
        var ranges = ActivationRanges(layers: 3)
        let pass = Forward(network: network, weights: network.weights, x: x, quantization: nil, ranges: &ranges, training: false)
        let (_, gradients) = pass.backward(data: data, batch: batch, passes: [nil, nil, nil])
        let h: Float = 2e-4
        for layer in 0..<3 {
            for j in stride(from: 0, to: network.weights[layer].values.count, by: 3) {
                let original = network.weights[layer].values[j]
                network.weights[layer].values[j] = original + h
                let up = lossValue(network)
                network.weights[layer].values[j] = original - h
                let down = lossValue(network)
                network.weights[layer].values[j] = original
                let numeric = (up - down) / Double(2 * h)
                #expect(
                    abs(numeric - Double(gradients[layer].w.values[j])) < 1e-3 + 0.02 * abs(numeric), "layer \(layer) weight \(j)"
                )
            }
            let original = network.biases[layer][0]
            network.biases[layer][0] = original + h
            let up = lossValue(network)
            network.biases[layer][0] = original - h
            let down = lossValue(network)
            network.biases[layer][0] = original
            #expect(
                abs((up - down) / Double(2 * h) - Double(gradients[layer].b[0])) < 1e-3,
                "layer \(layer) bias: \((up - down) / Double(2 * h)) vs \(gradients[layer].b[0])")
        }
    }

    @Test func straightThroughEstimatorStopsAtClampedValues() throws {
        // Channel 0's range is set by its one large weight... clipped by percentile, which clamps it.
        var w = Self.weights(2, 64, seed: 7)
        w.values[5] = 9
        let spec = try Recipe.parse(
            #"{"weights": {"bits": 4, "granularity": "channel", "clipping": {"method": "percentile", "percentile": 90}}}"#
        ).weights
        let fake = try FakeQuantizer(spec).apply(w, kernels: .best, name: "t")
        #expect(!fake.passes[5])
        #expect(fake.passes.filter { $0 }.count > 100)
        let binary = try FakeQuantizer(Recipe.parse(#"{"preset": "binary"}"#).weights).apply(w, kernels: .best, name: "t")
        #expect(!binary.passes[5] && binary.passes[0])
    }

    @Test func runsRepeatForASeedAndExportWhatTheyTrained() throws {
        let dir = try temporaryDirectory()
        let model = dir.appendingPathComponent("m.safetensors").path
        let data = dir.appendingPathComponent("d.safetensors").path
        let network = Self.network(activation: .relu, loss: .softmaxCrossEntropy)
        try network.write(to: model)
        var rng = SplitMix64(seed: 8)
        let x = (0..<(90 * 5)).map { _ in CalibrationTests.normal(&rng) }
        // The label is the index of the largest of the first three features.
        var labels: [Int64] = []
        for i in 0..<90 {
            let first = Array(x[(i * 5)..<(i * 5 + 3)])
            labels.append(Int64(first.firstIndex(of: first.max() ?? 0) ?? 0))
        }
        let writer = try SafetensorsWriter(
            path: data,
            tensors: [TensorSpec(name: "x", dtype: .f32, shape: [90, 5]), TensorSpec(name: "y", dtype: .i64, shape: [90])])
        try writer.write(try FloatCodec.fromFloat32(.f32, x))
        try writer.write(labels.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * $0)) } })
        try writer.finish()
        let recipe = try Recipe.parse(#"{"weights": {"bits": 3, "granularity": "channel"}, "activations": {"mode": "dynamic"}}"#)
        func run(seed: UInt64, name: String) throws -> (QAT.Result, [UInt8]) {
            var spec = TrainingSpec(datasetID: "d")
            spec.epochs = 4
            spec.batchSize = 8
            spec.learningRate = 0.01
            spec.seed = seed
            let out = dir.appendingPathComponent(name).path
            let result = try QAT.run(
                model: model, dataset: data, recipe: recipe, training: spec, output: out, options: PipelineOptions(threads: 2))
            return (result, Array(try Data(contentsOf: URL(fileURLWithPath: out))))
        }
        let (first, bytes) = try run(seed: 1, name: "a.safetensors")
        let (second, again) = try run(seed: 1, name: "b.safetensors")
        let (_, other) = try run(seed: 2, name: "c.safetensors")
        #expect(bytes == again && first.epochs.map(\.trainLoss) == second.epochs.map(\.trainLoss))
        #expect(bytes != other)
        #expect(first.epochs.count == 4 && first.epochs.last!.trainLoss < first.epochs.first!.trainLoss)
        // The evaluation's QAT numbers are those of the exported weights: dequantize and recompute.
        let back = dir.appendingPathComponent("back.safetensors").path
        try Dequantizer.run(input: dir.appendingPathComponent("a.safetensors").path, output: back)
        let file = try SafetensorsFile(path: back)
        var exported = network
        for i in 0..<3 {
            exported.weights[i].values = try file.tensor(named: "layers.\(i).weight").floats()
            exported.biases[i] = try file.tensor(named: "layers.\(i).bias").floats()
        }
        let trainingData = try TrainingData.load(data, network: exported, kernels: .best)
        var rngSplit = SeededRandom(seed: 1)
        let validation = Array(rngSplit.shuffled(Array(0..<90)).suffix(18))
        // Exported weights are already quantized: quantizing them again changes nothing.
        let quantization = try Quantization(recipe: recipe, network: exported)
        let evaluated = try QAT.evaluate(
            exported, data: trainingData, rows: validation, quantization: quantization, ranges: ActivationRanges(layers: 3),
            kernels: .best)
        #expect(evaluated.accuracy == first.evaluation.qatAccuracy)
    }
}
