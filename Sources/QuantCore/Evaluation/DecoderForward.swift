import Foundation

/// The reference forward pass of a decoder, in fp32 on OpenBLAS: embedding, then per layer RMSNorm,
/// attention with RoPE and grouped key/value heads (biases and q/k norms where the model has them),
/// RMSNorm and a SwiGLU feed-forward, then the final norm and the head (the embedding when tied).
/// Several sequences go through one layer at a time, so each weight is read and dequantized once
/// for all of them, and memory holds one layer's weights plus the activations.
public struct DecoderForward {
    public let spec: DecoderSpec
    let weights: Dequantizer.Tensors
    /// Called with each linear layer's weight name and its input (importance matrices from text).
    public var inputObserver: ((String, Matrix) -> Void)?
    /// The current layer's weights, decoded once for every sequence.
    private let layerCache = LayerCache()

    final class LayerCache {
        var active = false
        var entries: [String: (shape: [Int], values: [Float])] = [:]
    }

    public init(spec: DecoderSpec, weights: Dequantizer.Tensors) {
        self.spec = spec
        self.weights = weights
    }

    /// Logits of one sequence, one row of the vocabulary per token.
    public func logits(_ tokens: [Int]) throws -> Matrix {
        BLAS.multiplyTransposed(try hiddenStates([tokens])[0], try head())
    }

    /// The final-normed hidden states of each sequence (tokens x hidden), layer by layer over all of them.
    public func hiddenStates(_ sequences: [[Int]], progress: ((Int, Int) -> Void)? = nil, isCancelled: (() -> Bool)? = nil) throws
        -> [Matrix]
    {
        var xs: [Matrix] = []
        do {
            let embedding = try matrix(spec.embeddingName)
            for tokens in sequences {
                var x = Matrix(zeros: tokens.count, spec.hidden)
                for (row, token) in tokens.enumerated() {
                    guard token >= 0, token < embedding.rows else {
                        throw EvaluationError("token id \(token) is outside the vocabulary of \(embedding.rows)")
                    }
                    for col in 0..<spec.hidden { x[row, col] = embedding[token, col] }
                }
                xs.append(x)
            }
        }
        layerCache.active = true
        defer {
            layerCache.active = false
            layerCache.entries.removeAll()
        }
        for layer in 0..<spec.layers {
            if isCancelled?() == true { throw PipelineError.cancelled }
            layerCache.entries.removeAll()
            for index in xs.indices { try block(layer, &xs[index]) }
            progress?(layer + 1, spec.layers)
        }
        for index in xs.indices { try normalize(&xs[index], spec.finalNormName) }
        return xs
    }

    /// The output head (the embedding when tied), vocabulary x hidden.
    public func head() throws -> Matrix { try optionalMatrix(spec.headName) ?? matrix(spec.embeddingName) }

    private func block(_ layer: Int, _ x: inout Matrix) throws {
        var h = x
        try normalize(&h, spec.name(layer: layer, .attentionNorm))
        var q = try linear(h, layer, .query, bias: .queryBias)
        var k = try linear(h, layer, .key, bias: .keyBias)
        let v = try linear(h, layer, .value, bias: .valueBias)
        if let norm = try vector(spec.name(layer: layer, .queryNorm)) { headNorm(&q, norm) }
        if let norm = try vector(spec.name(layer: layer, .keyNorm)) { headNorm(&k, norm) }
        rotate(&q)
        rotate(&k)
        let attended = attention(q, k, v)
        inputObserver?(spec.name(layer: layer, .output), attended)
        add(&x, BLAS.multiplyTransposed(attended, try matrix(spec.name(layer: layer, .output))))
        h = x
        try normalize(&h, spec.name(layer: layer, .ffnNorm))
        inputObserver?(spec.name(layer: layer, .gate), h)
        inputObserver?(spec.name(layer: layer, .up), h)
        var gate = BLAS.multiplyTransposed(h, try matrix(spec.name(layer: layer, .gate)))
        let up = BLAS.multiplyTransposed(h, try matrix(spec.name(layer: layer, .up)))
        for i in gate.values.indices {
            let g = gate.values[i]
            gate.values[i] = g / (1 + exp(-g)) * up.values[i]
        }
        inputObserver?(spec.name(layer: layer, .down), gate)
        add(&x, BLAS.multiplyTransposed(gate, try matrix(spec.name(layer: layer, .down))))
    }

    /// Causal softmax attention per query head; query head h reads key/value head h / (heads / kvHeads).
    private func attention(_ q: Matrix, _ k: Matrix, _ v: Matrix) -> Matrix {
        let n = q.rows
        let d = spec.headDim
        let group = spec.heads / Swift.max(spec.kvHeads, 1)
        let scale = 1 / Float(d).squareRoot()
        var out = Matrix(zeros: n, spec.heads * d)
        for head in 0..<spec.heads {
            let kvHead = head / group
            let qh = columns(q, head * d, d)
            let kh = columns(k, kvHead * d, d)
            let vh = columns(v, kvHead * d, d)
            var scores = BLAS.multiplyTransposed(qh, kh)
            for row in 0..<n {
                var largest = -Float.infinity
                for col in 0...row { largest = Swift.max(largest, scores[row, col] * scale) }
                var total: Float = 0
                for col in 0..<n {
                    let value = col <= row ? exp(scores[row, col] * scale - largest) : 0
                    scores[row, col] = value
                    total += value
                }
                for col in 0...row { scores[row, col] /= total }
            }
            let result = BLAS.multiply(scores, vh)
            for row in 0..<n { for col in 0..<d { out[row, head * d + col] = result[row, col] } }
        }
        return out
    }

    /// RoPE at positions 0..<n over each head's dimensions, in the model's pair layout.
    private func rotate(_ m: inout Matrix) {
        let d = spec.headDim
        let half = d / 2
        // One angle per (position, pair), shared by every head.
        var cosines = [Float](repeating: 0, count: m.rows * half)
        var sines = cosines
        for row in 0..<m.rows {
            for i in 0..<half {
                let angle = Float(row) * spec.ropeFrequencies[i]
                cosines[row * half + i] = cos(angle)
                sines[row * half + i] = sin(angle)
            }
        }
        for row in 0..<m.rows {
            for base in stride(from: 0, to: m.cols, by: d) {
                for i in 0..<half {
                    let (c, s) = (cosines[row * half + i], sines[row * half + i])
                    let (a, b) = spec.interleavedRope ? (base + 2 * i, base + 2 * i + 1) : (base + i, base + i + half)
                    let (x0, x1) = (m[row, a], m[row, b])
                    m[row, a] = x0 * c - x1 * s
                    m[row, b] = x0 * s + x1 * c
                }
            }
        }
    }

    private func linear(_ h: Matrix, _ layer: Int, _ part: DecoderSpec.Part, bias: DecoderSpec.Part) throws -> Matrix {
        inputObserver?(spec.name(layer: layer, part), h)
        var y = BLAS.multiplyTransposed(h, try matrix(spec.name(layer: layer, part)))
        if let b = try vector(spec.name(layer: layer, bias)) {
            for row in 0..<y.rows { for col in 0..<y.cols { y[row, col] += b[col] } }
        }
        return y
    }

    private func normalize(_ x: inout Matrix, _ name: String) throws {
        guard let weight = try vector(name) else { throw EvaluationError("the model has no tensor \(name)") }
        rmsNorm(&x, weight, width: x.cols)
    }

    /// RMSNorm of each head's slice (Qwen3's q/k norms).
    private func headNorm(_ m: inout Matrix, _ weight: [Float]) { rmsNorm(&m, weight, width: weight.count) }

    private func rmsNorm(_ m: inout Matrix, _ weight: [Float], width: Int) {
        for row in 0..<m.rows {
            for start in stride(from: 0, to: m.cols, by: width) {
                var sum: Float = 0
                for col in start..<(start + width) { sum += m[row, col] * m[row, col] }
                let scale = 1 / (sum / Float(width) + spec.epsilon).squareRoot()
                for col in start..<(start + width) { m[row, col] = m[row, col] * scale * weight[col - start] }
            }
        }
    }

    private func add(_ x: inout Matrix, _ y: Matrix) {
        for i in x.values.indices { x.values[i] += y.values[i] }
    }

    private func columns(_ m: Matrix, _ start: Int, _ count: Int) -> Matrix {
        var out = Matrix(zeros: m.rows, count)
        for row in 0..<m.rows { for col in 0..<count { out[row, col] = m[row, start + col] } }
        return out
    }

    /// A weight's values: from the layer cache while layers run, else decoded now.
    private func values(_ name: String) throws -> (shape: [Int], values: [Float])? {
        guard layerCache.active else { return try weights.values(name) }
        if let cached = layerCache.entries[name] { return cached }
        let loaded = try weights.values(name)
        if let loaded { layerCache.entries[name] = loaded }
        return loaded
    }

    private func optionalMatrix(_ name: String) throws -> Matrix? {
        guard let (shape, values) = try values(name) else { return nil }
        let cols = shape.last ?? 1
        return Matrix(rows: values.count / Swift.max(cols, 1), cols: cols, values: values)
    }

    private func matrix(_ name: String) throws -> Matrix {
        guard let m = try optionalMatrix(name) else { throw EvaluationError("the model has no tensor \(name)") }
        return m
    }

    private func vector(_ name: String) throws -> [Float]? { try values(name)?.values }
}
