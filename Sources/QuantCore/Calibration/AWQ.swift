import Foundation

/// Activation-aware weight quantization (Lin et al., "AWQ", 2023), searched as AutoAWQ searches it.
/// Linear layers that read the same input form a group; each input channel j gets a scale s_j, the
/// group's weights are quantized as W·diag(s) and the layer that produces the input (a norm, or a
/// linear layer) is divided by s, so the model computes the same function in full precision while
/// the channels with large activations keep more of their weights' precision.
///
/// The scale is s = x̄^r / (w̄^(1-r) + 1e-4) (or x̄^r without duo scaling), with x̄ the mean |x| of
/// each input channel over the samples, w̄ the mean over the group's rows of |w| relative to its
/// quantization group's largest, normalized by sqrt(max(s)·min(s)); r = i / grid for i in 0..<grid.
/// The r whose quantized weights give the group's linear outputs the least squared error on the
/// samples wins, unless no scaling does better (then the group is left as it is). AutoAWQ measures
/// the error at the output of the whole attention or MLP block; here it is each linear layer's
/// output, which needs no forward pass of the block.
enum AWQ {
    /// Linear layers that read one input, and the tensors that produce it.
    struct Group: Sendable, Equatable {
        /// The weights whose columns are multiplied by the scales.
        var members: [String]
        /// The norm weight or linear weight (and bias) whose rows are divided by them.
        var producers: [String]
        /// The calibration layer whose inputs the members read (`<layer>.input`).
        var inputLayer: String
    }

    /// A group member: its weight and how its plan quantizes and restores a matrix (nil when it
    /// stays in floating point).
    struct Member {
        var name: String
        var weight: Matrix
        var roundTrip: ((Matrix) throws -> Matrix)?
    }

    /// What the search chose for a group.
    struct Outcome: Sendable {
        /// Nil when no scaling beat quantizing the weights as they are.
        var scales: [Float]?
        var ratio: Double?
        /// Each member's output SQNR (dB) on the samples, quantized as is and with the chosen scales.
        var before: [String: Double]
        var after: [String: Double]
        var samples: Int
    }

    /// The groups of a Llama-family decoder (Hugging Face names), as AutoAWQ forms them: the input
    /// norm before q/k/v, v before o (when every query head has its own value head), the
    /// post-attention norm before gate/up, and up before down. Groups whose tensors are missing are left out.
    static func decoderGroups(_ spec: DecoderSpec, has: (String) -> Bool) -> [Group] {
        var groups: [Group] = []
        func layer(_ weight: String) -> String { String(weight.dropLast(".weight".count)) }
        for index in 0..<spec.layers {
            let name = { (part: DecoderSpec.Part) in spec.name(layer: index, part) }
            var candidates = [
                Group(
                    members: [name(.query), name(.key), name(.value)], producers: [name(.attentionNorm)],
                    inputLayer: layer(name(.query))),
                Group(members: [name(.gate), name(.up)], producers: [name(.ffnNorm)], inputLayer: layer(name(.gate))),
                Group(members: [name(.down)], producers: [name(.up)], inputLayer: layer(name(.down))),
            ]
            if spec.kvHeads == spec.heads {
                let bias = has(name(.valueBias)) ? [name(.valueBias)] : []
                candidates.insert(
                    Group(members: [name(.output)], producers: [name(.value)] + bias, inputLayer: layer(name(.output))), at: 1)
            }
            groups += candidates.filter { ($0.members + $0.producers).allSatisfy(has) }
        }
        return groups
    }

    /// Searches one group's scales on its input samples `x` (samples x in). `groupSize` is the
    /// quantization group along a row that w̄ is measured in.
    static func search(
        x: Matrix, members: [Member], groupSize: Int, grid: Int, duoScaling: Bool, isCancelled: () -> Bool = { false }
    ) throws -> Outcome {
        let cols = x.cols
        let xMean = (0..<cols).map { col in
            var sum = 0.0
            for row in 0..<x.rows { sum += Double(abs(x.values[row * cols + col])) }
            return sum / Double(Swift.max(x.rows, 1))
        }
        let wMean = relativeWeightMagnitude(members.map(\.weight), cols: cols, groupSize: groupSize)
        let references = members.map { BLAS.multiplyTransposed(x, $0.weight) }

        /// Squared output error of every member with the given scales (nil: as the weights are).
        func errors(_ scales: [Float]?) throws -> [Double] {
            try zip(members, references).map { member, reference in
                guard let roundTrip = member.roundTrip else { return 0 }
                var w = member.weight
                if let scales { scaleColumns(&w, by: scales) }
                var restored = try roundTrip(w)
                if let scales { scaleColumns(&restored, by: scales.map { 1 / $0 }) }
                return squaredError(reference, BLAS.multiplyTransposed(x, restored))
            }
        }
        let plain = try errors(nil)
        var best: (loss: Double, ratio: Double, scales: [Float], errors: [Double])?
        for step in 0..<grid {
            if isCancelled() { throw PipelineError.cancelled }
            let ratio = Double(step) / Double(grid)
            let scales = self.scales(xMean: xMean, wMean: wMean, ratio: ratio, duoScaling: duoScaling)
            let candidate = try errors(scales)
            let loss = candidate.reduce(0, +)
            if loss.isFinite, loss < (best?.loss ?? .infinity) { best = (loss, ratio, scales, candidate) }
        }
        let signal = references.map { reference in reference.values.reduce(0.0) { $0 + Double($1) * Double($1) } }
        func sqnr(_ errors: [Double]) -> [String: Double] {
            Dictionary(
                uniqueKeysWithValues: members.indices.map { index in
                    (members[index].name, errors[index] == 0 ? .infinity : 10 * log10(signal[index] / errors[index]))
                })
        }
        guard let best, best.loss < plain.reduce(0, +) else {
            return Outcome(scales: nil, ratio: nil, before: sqnr(plain), after: sqnr(plain), samples: x.rows)
        }
        return Outcome(scales: best.scales, ratio: best.ratio, before: sqnr(plain), after: sqnr(best.errors), samples: x.rows)
    }

    /// s = x̄^r / (w̄^(1-r) + 1e-4) (or x̄^r), at least 1e-4, divided by sqrt(max · min).
    static func scales(xMean: [Double], wMean: [Double], ratio: Double, duoScaling: Bool) -> [Float] {
        let raw = zip(xMean, wMean).map { x, w in
            Swift.max(duoScaling ? pow(x, ratio) / (pow(w, 1 - ratio) + 1e-4) : pow(x, ratio), 1e-4)
        }
        let norm = (raw.max()! * raw.min()!).squareRoot()
        return raw.map { Float($0 / norm) }
    }

    /// Per input column, the mean over all rows of |w| divided by the largest |w| of its
    /// quantization group in that row.
    static func relativeWeightMagnitude(_ weights: [Matrix], cols: Int, groupSize: Int) -> [Double] {
        var sums = [Double](repeating: 0, count: cols)
        var rows = 0
        let size = Swift.max(1, Swift.min(groupSize, cols))
        for w in weights {
            for row in 0..<w.rows {
                let base = row * cols
                for start in stride(from: 0, to: cols, by: size) {
                    let end = Swift.min(cols, start + size)
                    var largest: Float = 0
                    for col in start..<end { largest = Swift.max(largest, abs(w.values[base + col])) }
                    for col in start..<end { sums[col] += Double(abs(w.values[base + col]) / (largest + 1e-6)) }
                }
            }
            rows += w.rows
        }
        return sums.map { $0 / Double(Swift.max(rows, 1)) }
    }

    static func scaleColumns(_ w: inout Matrix, by factors: [Float]) {
        let cols = w.cols
        w.values.withUnsafeMutableBufferPointer { values in
            for row in 0..<w.rows {
                for col in 0..<cols { values[row * cols + col] *= factors[col] }
            }
        }
    }

    static func squaredError(_ a: Matrix, _ b: Matrix) -> Double {
        var sum = 0.0
        for i in 0..<a.values.count {
            let d = Double(a.values[i]) - Double(b.values[i])
            sum += d * d
        }
        return sum
    }
}
