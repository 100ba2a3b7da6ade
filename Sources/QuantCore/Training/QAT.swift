import Dispatch
import Foundation
import Int8Kernels
import JSON
import ModelFormats

/// One epoch of a QAT run.
public struct EpochRecord: Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double
    /// Nil for regression (mse).
    public var validationAccuracy: Double?
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, validationLoss: Double, validationAccuracy: Double?, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.seconds = seconds
    }

    public var json: JSONValue {
        .object(
            JSONObject([
                ("epoch", .integer(epoch)), ("train_loss", Report.number(trainLoss)),
                ("validation_loss", Report.number(validationLoss)),
                ("validation_accuracy", validationAccuracy.map(Report.number) ?? .null), ("seconds", Report.number(seconds)),
            ]))
    }
}

/// Quantization-aware training of a feed-forward network (docs/QAT.md): fp32 master weights; the
/// forward pass sees the weights (and, when the recipe quantizes them, the activations) exactly as
/// the artifact will hold them; the backward pass is the straight-through estimator, zero where a
/// value was clamped to the quantization range; the optimizer updates the fp32 masters, so small
/// gradients accumulate without loss. Only the quantized weights are exported, through the same
/// pipeline as post-training quantization.
public enum QAT {
    public struct Evaluation: Sendable, Equatable {
        /// Validation accuracy (nil for mse) and loss of the fp32 model, of post-training
        /// quantization with the same recipe, and of the QAT model as exported.
        public var fp32Accuracy: Double?, ptqAccuracy: Double?, qatAccuracy: Double?
        public var fp32Loss: Double, ptqLoss: Double, qatLoss: Double

        public var json: JSONValue {
            .object(
                JSONObject([
                    ("fp32_accuracy", fp32Accuracy.map(Report.number) ?? .null),
                    ("ptq_accuracy", ptqAccuracy.map(Report.number) ?? .null),
                    ("qat_accuracy", qatAccuracy.map(Report.number) ?? .null), ("fp32_loss", Report.number(fp32Loss)),
                    ("ptq_loss", Report.number(ptqLoss)), ("qat_loss", Report.number(qatLoss)),
                ]))
        }
    }

    public struct Result: Sendable {
        public var report: Report
        public var epochs: [EpochRecord]
        public var evaluation: Evaluation
        public var trainingSeconds: Double
    }

    /// Checks a QAT request before it is queued: the model's shape, its activation and loss, the
    /// recipe's methods and the data. Errors name the field and say what is supported.
    public static func validate(model: String, dataset: String?, recipe: Recipe, training: TrainingSpec) throws {
        let source = try SourceModel(path: model)
        let network = try FeedForwardNetwork.load(source, spec: training, kernels: .best)
        _ = try Quantization(recipe: recipe, network: network)
        if let dataset { _ = try TrainingData.load(dataset, network: network, kernels: .best) }
    }

    public static func run(
        model: String, dataset: String, recipe: Recipe, training: TrainingSpec, output: String, options: PipelineOptions,
        onEpoch: (EpochRecord) throws -> Void = { _ in }
    ) throws -> Result {
        let started = DispatchTime.now().uptimeNanoseconds
        BLAS.setThreads(1)  // small GEMMs; one thread also keeps the sums in one order
        let kernels = options.kernels
        var network = try FeedForwardNetwork.load(try SourceModel(path: model), spec: training, kernels: kernels)
        let data = try TrainingData.load(dataset, network: network, kernels: kernels)
        let quantization = try Quantization(recipe: recipe, network: network)
        var rng = SeededRandom(seed: training.seed)
        let order = rng.shuffled(Array(0..<data.x.rows))
        let validationCount = Swift.min(
            data.x.rows - 1, Swift.max(1, Int((Double(data.x.rows) * training.validationSplit).rounded())))
        let validation = Array(order.suffix(validationCount))
        let train = Array(order.prefix(data.x.rows - validationCount))

        var inputRanges = ActivationRanges(layers: network.layerCount)
        inputRanges.observe(network, quantization: nil, x: TrainingData.rows(data.x, train[...]))
        let fp32 = try evaluate(network, data: data, rows: validation, quantization: nil, ranges: inputRanges, kernels: kernels)
        let ptq = try evaluate(
            network, data: data, rows: validation, quantization: quantization, ranges: inputRanges, kernels: kernels)

        var optimizer = Optimizer(spec: training, network: network)
        var epochs: [EpochRecord] = []
        let stepsPerEpoch = (train.count + training.batchSize - 1) / training.batchSize
        var best: (epoch: Int, network: FeedForwardNetwork, accuracy: Double?, loss: Double)?
        let trainStart = DispatchTime.now().uptimeNanoseconds
        for epoch in 1...training.epochs {
            let epochStart = DispatchTime.now().uptimeNanoseconds
            let shuffled = rng.shuffled(train)
            var lossSum = 0.0
            var start = 0
            while start < shuffled.count {
                let batch = shuffled[start..<Swift.min(shuffled.count, start + training.batchSize)]
                let quantized = try quantization.weights(network, kernels: kernels)
                let pass = Forward(
                    network: network, weights: quantized.values, x: TrainingData.rows(data.x, batch), quantization: quantization,
                    ranges: &inputRanges, training: true)
                let (loss, gradients) = pass.backward(data: data, batch: batch, passes: quantized.passes)
                lossSum += loss * Double(batch.count)
                let rate = Float(training.learningRate(step: optimizer.step, stepsPerEpoch: stepsPerEpoch))
                optimizer.step(&network, gradients, rate: rate)
                start += training.batchSize
                // A cancel (or a lost lease) stops within a batch, not at the end of a long epoch.
                if options.isCancelled?() == true { throw PipelineError.cancelled }
            }
            let result = try evaluate(
                network, data: data, rows: validation, quantization: quantization, ranges: inputRanges, kernels: kernels)
            let record = EpochRecord(
                epoch: epoch, trainLoss: lossSum / Double(Swift.max(train.count, 1)), validationLoss: result.loss,
                validationAccuracy: result.accuracy,
                seconds: Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9)
            epochs.append(record)
            if best.map({ Self.isBetter(result, than: ($0.accuracy, $0.loss)) }) ?? true {
                best = (epoch, network, result.accuracy, result.loss)
            }
            try onEpoch(record)
        }
        let trainingSeconds = Double(DispatchTime.now().uptimeNanoseconds - trainStart) / 1e9
        if training.keepBest, let best { network = best.network }
        let exportedEpoch = training.keepBest ? best?.epoch ?? training.epochs : training.epochs
        let final = try evaluate(
            network, data: data, rows: validation, quantization: quantization, ranges: inputRanges, kernels: kernels)

        // Export: the trained masters through the pipeline (which quantizes them exactly as the
        // forward pass did); with static activations, the layers' inputs on the training split are
        // the calibration data.
        let trained = output + ".trained-\(UUID().uuidString).safetensors"
        let calibration = output + ".inputs-\(UUID().uuidString).safetensors"
        defer {
            try? FileManager.default.removeItem(atPath: trained)
            try? FileManager.default.removeItem(atPath: calibration)
        }
        try network.write(to: trained)
        var pipelineOptions = options
        pipelineOptions.calibrationDataset = nil
        if recipe.datasetID != nil {
            try captureInputs(
                network, x: TrainingData.rows(data.x, train[...]), quantization: quantization, ranges: &inputRanges,
                kernels: kernels, to: calibration)
            pipelineOptions.calibrationDataset = calibration
        }
        var report = try Pipeline.run(input: trained, output: output, recipe: recipe, options: pipelineOptions)
        let evaluation = Evaluation(
            fp32Accuracy: fp32.accuracy, ptqAccuracy: ptq.accuracy, qatAccuracy: final.accuracy, fp32Loss: fp32.loss,
            ptqLoss: ptq.loss, qatLoss: final.loss)
        report.training = .object(
            JSONObject([
                ("spec", training.json), ("activation", .string(network.activation.rawValue)),
                ("loss", .string(network.loss.rawValue)),
                ("train_samples", .integer(train.count)), ("validation_samples", .integer(validation.count)),
                ("best_epoch", .integer(best?.epoch ?? training.epochs)), ("exported_epoch", .integer(exportedEpoch)),
                ("seconds", Report.number(trainingSeconds)), ("evaluation", evaluation.json),
                ("epochs", .array(epochs.map(\.json))),
            ]))
        report.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return Result(report: report, epochs: epochs, evaluation: evaluation, trainingSeconds: trainingSeconds)
    }

    /// Higher validation accuracy wins (lower loss on a tie, or for mse); an equal result keeps the
    /// earlier epoch.
    static func isBetter(_ result: (loss: Double, accuracy: Double?), than other: (accuracy: Double?, loss: Double)) -> Bool {
        if let accuracy = result.accuracy, let previous = other.accuracy, accuracy != previous { return accuracy > previous }
        return result.loss < other.loss
    }

    /// Loss and accuracy on `rows`, with quantized weights and activations when `quantization` is given.
    static func evaluate(
        _ network: FeedForwardNetwork, data: TrainingData, rows: [Int], quantization: Quantization?, ranges: ActivationRanges,
        kernels: Kernels
    ) throws -> (loss: Double, accuracy: Double?) {
        let weights = try quantization.map { try $0.weights(network, kernels: kernels).values } ?? network.weights
        var fixed = ranges
        let pass = Forward(
            network: network, weights: weights, x: TrainingData.rows(data.x, rows[...]), quantization: quantization,
            ranges: &fixed, training: false)
        return pass.lossAndAccuracy(data: data, batch: rows[...])
    }

    /// `<layer>.input` for each layer, as the quantized network computes them (the dataset of the
    /// static activation scales).
    static func captureInputs(
        _ network: FeedForwardNetwork, x: Matrix, quantization: Quantization, ranges: inout ActivationRanges, kernels: Kernels,
        to path: String
    ) throws {
        let weights = try quantization.weights(network, kernels: kernels).values
        let pass = Forward(network: network, weights: weights, x: x, quantization: nil, ranges: &ranges, training: false)
        let specs = (0..<network.layerCount).map {
            TensorSpec(name: "layers.\($0).input", dtype: .f32, shape: [x.rows, network.weights[$0].cols])
        }
        let writer = try SafetensorsWriter(path: path, tensors: specs)
        for i in 0..<network.layerCount { try writer.write(try FloatCodec.fromFloat32(.f32, pass.inputs[i].values)) }
        try writer.finish()
    }
}

/// The recipe's quantization as training sees it: a fake quantizer per targeted weight, and the
/// activation mode.
struct Quantization {
    let quantizers: [FakeQuantizer?]
    let activations: ActivationSpec?

    init(recipe: Recipe, network: FeedForwardNetwork) throws {
        guard recipe.mixedPrecision == nil else {
            throw TrainingError.unsupported(
                "recipe.mixed_precision", "QAT trains one recipe; run automatic mixed precision as a quantize job")
        }
        guard recipe.output.isSafetensors else {
            throw TrainingError.unsupported("recipe.output.format", "QAT writes safetensors or compressed-tensors")
        }
        quantizers = try (0..<network.layerCount).map { i in
            let name = FeedForwardNetwork.weightName(i)
            guard recipe.quantizes(name: name, isFloatingPoint: true, rank: 2) else { return nil }
            let spec = recipe.weights(for: name)
            guard spec.calibrationDatasetID == nil else {
                throw TrainingError.unsupported(
                    "recipe.weights", "GPTQ and AdaRound are post-training methods; QAT learns the weights itself")
            }
            return try FakeQuantizer(spec)
        }
        if let activations = recipe.activations, activations.mode == .staticScales, !activations.symmetric {
            throw TrainingError.unsupported(
                "recipe.activations.symmetric", "QAT trains symmetric int8 activations (static or dynamic)")
        }
        activations = recipe.activations
    }

    func weights(_ network: FeedForwardNetwork, kernels: Kernels) throws -> (values: [Matrix], passes: [[Bool]?]) {
        var values: [Matrix] = []
        var passes: [[Bool]?] = []
        for (i, w) in network.weights.enumerated() {
            if let quantizer = quantizers[i] {
                let result = try quantizer.apply(w, kernels: kernels, name: FeedForwardNetwork.weightName(i))
                values.append(result.values)
                passes.append(result.passes)
            } else {
                values.append(w)
                passes.append(nil)
            }
        }
        return (values, passes)
    }
}

/// Static activation ranges: an exponential moving average (0.9) of each layer input's absmax over
/// training batches; the scale is that / 127.
struct ActivationRanges {
    var absMax: [Float]
    var seen: [Bool]

    init(layers: Int) {
        absMax = [Float](repeating: 0, count: layers)
        seen = [Bool](repeating: false, count: layers)
    }

    mutating func update(_ layer: Int, _ value: Float) {
        absMax[layer] = seen[layer] ? 0.9 * absMax[layer] + 0.1 * value : value
        seen[layer] = true
    }

    /// Ranges of the fp32 network on `x` (one pass, the starting point of training).
    mutating func observe(_ network: FeedForwardNetwork, quantization: Quantization?, x: Matrix) {
        var copy = self
        let pass = Forward(network: network, weights: network.weights, x: x, quantization: nil, ranges: &copy, training: false)
        for i in 0..<network.layerCount { update(i, pass.inputs[i].values.reduce(0) { Swift.max($0, abs($1)) }) }
    }

    func scale(_ layer: Int) -> Float { absMax[layer] > 0 ? absMax[layer] / 127 : 1 }
}
