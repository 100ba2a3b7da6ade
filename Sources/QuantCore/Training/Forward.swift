import Foundation

/// One forward pass of a batch, keeping what the backward pass needs: each layer's input as used
/// (after activation fake-quantization), where that quantization clamped, and each pre-activation.
struct Forward {
    let network: FeedForwardNetwork
    let weights: [Matrix]
    var inputs: [Matrix] = []
    /// Per layer input: false where the activation quantizer clamped (no gradient there).
    var inputPasses: [[Bool]?] = []
    var preActivations: [Matrix] = []

    var output: Matrix { preActivations[preActivations.count - 1] }

    init(
        network: FeedForwardNetwork, weights: [Matrix], x: Matrix, quantization: Quantization?, ranges: inout ActivationRanges,
        training: Bool
    ) {
        self.network = network
        self.weights = weights
        var h = x
        for i in 0..<network.layerCount {
            var passes: [Bool]?
            if let activations = quantization?.activations {
                if activations.mode == .staticScales {
                    if training { ranges.update(i, h.values.reduce(0) { Swift.max($0, abs($1)) }) }
                    passes = Self.fakeQuantize(&h, scale: ranges.scale(i))
                } else {
                    Self.fakeQuantizePerToken(&h)
                }
            }
            inputs.append(h)
            inputPasses.append(passes)
            var z = BLAS.multiplyTransposed(h, weights[i])
            let bias = network.biases[i]
            for r in 0..<z.rows { for c in 0..<z.cols { z.values[r * z.cols + c] += bias[c] } }
            preActivations.append(z)
            if i < network.layerCount - 1 {
                h = Matrix(rows: z.rows, cols: z.cols, values: z.values.map(network.activate))
            }
        }
    }

    /// Symmetric int8 with one scale: round(x / s) clamped to [-128, 127], times s.
    static func fakeQuantize(_ x: inout Matrix, scale: Float) -> [Bool] {
        let inverse = 1 / scale
        var passes = [Bool](repeating: true, count: x.values.count)
        for i in x.values.indices {
            let v = (x.values[i] * inverse).rounded(.toNearestOrEven)
            passes[i] = v >= -128 && v <= 127
            x.values[i] = Swift.min(Swift.max(v, -128), 127) * scale
        }
        return passes
    }

    /// Symmetric int8 per token (row), scale absmax / 127, as the W8A8 evaluation quantizes:
    /// nothing is clamped.
    static func fakeQuantizePerToken(_ x: inout Matrix) {
        let (codes, scales) = ActivationQuantization.quantizePerToken(x)
        for r in 0..<x.rows {
            for c in 0..<x.cols { x.values[r * x.cols + c] = Float(codes[r * x.cols + c]) * scales[r] }
        }
    }

    /// Mean loss and, for classification, accuracy of the batch.
    func lossAndAccuracy(data: TrainingData, batch: ArraySlice<Int>) -> (loss: Double, accuracy: Double?) {
        let (loss, _, correct) = lossGradient(data: data, batch: batch, needGradient: false)
        return (loss, network.loss == .softmaxCrossEntropy ? Double(correct) / Double(Swift.max(batch.count, 1)) : nil)
    }

    /// The loss and dL/dz of the last layer (mean over the batch), and the number of correct argmaxes.
    func lossGradient(data: TrainingData, batch: ArraySlice<Int>, needGradient: Bool = true) -> (Double, Matrix, Int) {
        let z = output
        var delta = Matrix(zeros: needGradient ? z.rows : 0, needGradient ? z.cols : 0)
        var loss = 0.0
        var correct = 0
        let n = Float(Swift.max(z.rows, 1))
        for (r, sample) in batch.enumerated() {
            let row = Array(z.values[(r * z.cols)..<((r + 1) * z.cols)])
            switch network.loss {
            case .softmaxCrossEntropy:
                let label = data.labels[sample]
                let top = row.max() ?? 0
                let exps = row.map { exp($0 - top) }
                let sum = exps.reduce(0, +)
                loss -= Double(log(Swift.max(exps[label] / sum, .leastNormalMagnitude)))
                if row.firstIndex(of: top) == label { correct += 1 }
                if needGradient {
                    for c in 0..<z.cols { delta.values[r * z.cols + c] = (exps[c] / sum - (c == label ? 1 : 0)) / n }
                }
            case .mse:
                let targets = data.targets!
                for c in 0..<z.cols {
                    let d = row[c] - targets.values[sample * z.cols + c]
                    loss += Double(d * d) / Double(z.cols)
                    if needGradient { delta.values[r * z.cols + c] = 2 * d / (n * Float(z.cols)) }
                }
            }
        }
        return (loss / Double(n), delta, correct)
    }

    /// Mean loss and the gradients of the fp32 master weights: the straight-through estimator
    /// passes the gradient of the quantized weight where `passes` allows (the weight was not clamped).
    func backward(data: TrainingData, batch: ArraySlice<Int>, passes: [[Bool]?]) -> (Double, [(w: Matrix, b: [Float])]) {
        var (loss, delta, _) = lossGradient(data: data, batch: batch)
        var gradients = [(w: Matrix, b: [Float])](repeating: (Matrix(zeros: 0, 0), []), count: network.layerCount)
        for i in stride(from: network.layerCount - 1, through: 0, by: -1) {
            var gw = BLAS.transposedMultiply(delta, inputs[i])
            if let mask = passes[i] { for j in gw.values.indices where !mask[j] { gw.values[j] = 0 } }
            var gb = [Float](repeating: 0, count: delta.cols)
            for r in 0..<delta.rows { for c in 0..<delta.cols { gb[c] += delta.values[r * delta.cols + c] } }
            gradients[i] = (gw, gb)
            guard i > 0 else { break }
            var upstream = BLAS.multiply(delta, weights[i])
            let mask = inputPasses[i]
            let z = preActivations[i - 1]
            for j in upstream.values.indices {
                upstream.values[j] *= (mask?[j] ?? true) ? network.derivative(z.values[j]) : 0
            }
            delta = upstream
        }
        return (loss, gradients)
    }
}

/// SGD with momentum 0.9, or Adam (0.9, 0.999, 1e-8), on the fp32 master weights.
struct Optimizer {
    let spec: TrainingSpec
    var first: [(w: [Float], b: [Float])]
    var second: [(w: [Float], b: [Float])]
    var step = 0

    init(spec: TrainingSpec, network: FeedForwardNetwork) {
        self.spec = spec
        first = zip(network.weights, network.biases).map {
            ([Float](repeating: 0, count: $0.values.count), [Float](repeating: 0, count: $1.count))
        }
        second = first
    }

    /// One update with learning rate `rate` (the schedule's value for this step).
    mutating func step(_ network: inout FeedForwardNetwork, _ gradients: [(w: Matrix, b: [Float])], rate: Float) {
        step += 1
        let c1 = 1 - pow(0.9, Float(step))
        let c2 = 1 - pow(0.999, Float(step))
        func update(_ value: inout Float, _ g: Float, _ m: inout Float, _ v: inout Float) {
            switch spec.optimizer {
            case .sgd:
                m = 0.9 * m + g
                value -= rate * m
            case .adam:
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                value -= rate * (m / c1) / ((v / c2).squareRoot() + 1e-8)
            }
        }
        for i in 0..<network.layerCount {
            for j in network.weights[i].values.indices {
                update(&network.weights[i].values[j], gradients[i].w.values[j], &first[i].w[j], &second[i].w[j])
            }
            for j in network.biases[i].indices {
                update(&network.biases[i][j], gradients[i].b[j], &first[i].b[j], &second[i].b[j])
            }
        }
    }
}

/// SplitMix64: the seed fixes the validation split and every epoch's order.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fisher-Yates with our own draws (the standard library's shuffle may change between releases).
    mutating func shuffled(_ items: [Int]) -> [Int] {
        var out = items
        guard out.count > 1 else { return out }
        for i in stride(from: out.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            out.swapAt(i, j)
        }
        return out
    }
}
