import Foundation
import JSON
import ModelArchitectures
import ModelFormats

/// The reference forward pass of a BERT encoder, in fp32 on OpenBLAS: word, position and token-type
/// embeddings with LayerNorm, then per layer self-attention (no mask: one sequence) and a GELU
/// feed-forward, each followed by a residual LayerNorm; the sentence embedding pooled as
/// sentence-transformers pools it (mean, or the first token). Names from config.json (Hugging Face)
/// or GGUF metadata (llama.cpp).
public struct EncoderForward {
    public enum Pooling: Sendable { case mean, first }

    let weights: Dequantizer.Tensors
    let hidden: Int
    let layers: Int
    let heads: Int
    let epsilon: Float
    let pooling: Pooling
    let gguf: Bool

    public init(weights: Dequantizer.Tensors) throws {
        self.weights = weights
        if let object = weights.config {
            let config = HFConfig(object)
            guard config.architecture == "BertModel" else {
                throw EvaluationError("the encoder forward pass runs BertModel, not \(config.architecture ?? "(none)")")
            }
            hidden = try config.required("hidden_size")
            layers = try config.required("num_hidden_layers")
            heads = try config.required("num_attention_heads")
            epsilon = Float(config.double("layer_norm_eps") ?? 1e-12)
            pooling = .mean
            gguf = false
            return
        }
        func value(_ key: String) -> GGUFValue? { weights.ggufMetadata.first { $0.key == key }?.value }
        guard case .string("bert")? = value("general.architecture"), case .uint32(let h)? = value("bert.embedding_length"),
            case .uint32(let l)? = value("bert.block_count"), case .uint32(let n)? = value("bert.attention.head_count")
        else {
            throw EvaluationError("the encoder forward pass runs BERT checkpoints and bert GGUFs")
        }
        (hidden, layers, heads) = (Int(h), Int(l), Int(n))
        if case .float32(let e)? = value("bert.attention.layer_norm_epsilon") { epsilon = e } else { epsilon = 1e-12 }
        if case .uint32(2)? = value("bert.pooling_type") { pooling = .first } else { pooling = .mean }
        gguf = true
    }

    /// The pooled embedding of one sequence of token ids (special tokens included).
    public func embedding(_ tokens: [Int]) throws -> [Float] {
        let n = tokens.count
        let words = try matrix(name("embeddings.word_embeddings.weight", "token_embd.weight"))
        let positions = try matrix(name("embeddings.position_embeddings.weight", "position_embd.weight"))
        let types = try matrix(name("embeddings.token_type_embeddings.weight", "token_types.weight"))
        guard n <= positions.rows else { throw EvaluationError("\(n) tokens exceed the model's \(positions.rows) positions") }
        var x = Matrix(zeros: n, hidden)
        for (row, token) in tokens.enumerated() {
            guard token >= 0, token < words.rows else { throw EvaluationError("token id \(token) is outside the vocabulary") }
            for col in 0..<hidden { x[row, col] = words[token, col] + positions[row, col] + types[0, col] }
        }
        try layerNorm(&x, name("embeddings.LayerNorm", "token_embd_norm"))
        for layer in 0..<layers {
            let p = gguf ? "blk.\(layer)." : "encoder.layer.\(layer)."
            let q = try dense(x, p + (gguf ? "attn_q" : "attention.self.query"))
            let k = try dense(x, p + (gguf ? "attn_k" : "attention.self.key"))
            let v = try dense(x, p + (gguf ? "attn_v" : "attention.self.value"))
            var attended = try dense(attention(q, k, v), p + (gguf ? "attn_output" : "attention.output.dense"))
            add(&attended, x)
            try layerNorm(&attended, p + (gguf ? "attn_output_norm" : "attention.output.LayerNorm"))
            x = attended
            var up = try dense(x, p + (gguf ? "ffn_up" : "intermediate.dense"))
            for i in up.values.indices { up.values[i] = 0.5 * up.values[i] * (1 + erf(up.values[i] / Float(2).squareRoot())) }
            var out = try dense(up, p + (gguf ? "ffn_down" : "output.dense"))
            add(&out, x)
            try layerNorm(&out, p + (gguf ? "layer_output_norm" : "output.LayerNorm"))
            x = out
        }
        switch pooling {
        case .first: return Array(x.values[0..<hidden])
        case .mean: return (0..<hidden).map { col in (0..<n).reduce(Float(0)) { $0 + x[$1, col] } / Float(n) }
        }
    }

    private func attention(_ q: Matrix, _ k: Matrix, _ v: Matrix) -> Matrix {
        let n = q.rows
        let d = hidden / heads
        let scale = 1 / Float(d).squareRoot()
        var out = Matrix(zeros: n, hidden)
        for head in 0..<heads {
            var qh = Matrix(zeros: n, d)
            var kh = Matrix(zeros: n, d)
            var vh = Matrix(zeros: n, d)
            for row in 0..<n {
                for col in 0..<d {
                    (qh[row, col], kh[row, col], vh[row, col]) = (
                        q[row, head * d + col], k[row, head * d + col], v[row, head * d + col]
                    )
                }
            }
            var scores = BLAS.multiplyTransposed(qh, kh)
            for row in 0..<n {
                let largest = (0..<n).map { scores[row, $0] * scale }.max() ?? 0
                var total: Float = 0
                for col in 0..<n {
                    scores[row, col] = exp(scores[row, col] * scale - largest)
                    total += scores[row, col]
                }
                for col in 0..<n { scores[row, col] /= total }
            }
            let result = BLAS.multiply(scores, vh)
            for row in 0..<n { for col in 0..<d { out[row, head * d + col] = result[row, col] } }
        }
        return out
    }

    private func name(_ huggingFace: String, _ llamaCpp: String) -> String { gguf ? llamaCpp : huggingFace }

    private func dense(_ x: Matrix, _ module: String) throws -> Matrix {
        var y = BLAS.multiplyTransposed(x, try matrix(module + ".weight"))
        if let bias = try weights.values(module + ".bias")?.values {
            for row in 0..<y.rows { for col in 0..<y.cols { y[row, col] += bias[col] } }
        }
        return y
    }

    private func layerNorm(_ x: inout Matrix, _ module: String) throws {
        guard let weight = try weights.values(module + ".weight")?.values, let bias = try weights.values(module + ".bias")?.values
        else {
            throw EvaluationError("the model has no \(module) weight and bias")
        }
        for row in 0..<x.rows {
            var mean: Float = 0
            for col in 0..<x.cols { mean += x[row, col] }
            mean /= Float(x.cols)
            var variance: Float = 0
            for col in 0..<x.cols { variance += (x[row, col] - mean) * (x[row, col] - mean) }
            let scale = 1 / (variance / Float(x.cols) + epsilon).squareRoot()
            for col in 0..<x.cols { x[row, col] = (x[row, col] - mean) * scale * weight[col] + bias[col] }
        }
    }

    private func add(_ x: inout Matrix, _ y: Matrix) { for i in x.values.indices { x.values[i] += y.values[i] } }

    private func matrix(_ name: String) throws -> Matrix {
        guard let (shape, values) = try weights.values(name) else { throw EvaluationError("the model has no tensor \(name)") }
        let cols = shape.last ?? 1
        return Matrix(rows: values.count / Swift.max(cols, 1), cols: cols, values: values)
    }
}

/// How close a quantized encoder's sentence embeddings stay to the original's.
public struct EncoderEvaluation: Sendable {
    public var texts: Int
    public var meanCosine: Double
    public var minCosine: Double

    /// Each text (truncated to `context` tokens) embedded by both models.
    public static func run(
        _ sequences: [[Int]], base: EncoderForward, candidate: EncoderForward, progress: ((Int, Int) -> Void)? = nil
    ) throws -> EncoderEvaluation {
        guard !sequences.isEmpty else { throw EvaluationError("no text to embed") }
        var cosines: [Double] = []
        for (index, tokens) in sequences.enumerated() {
            let a = try base.embedding(tokens)
            let b = try candidate.embedding(tokens)
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let norms = (a.reduce(0.0) { $0 + Double($1) * Double($1) } * b.reduce(0.0) { $0 + Double($1) * Double($1) })
                .squareRoot()
            cosines.append(norms > 0 ? dot / norms : 0)
            progress?(index + 1, sequences.count)
        }
        return EncoderEvaluation(
            texts: sequences.count, meanCosine: cosines.reduce(0, +) / Double(cosines.count), minCosine: cosines.min()!)
    }

    public var json: JSONValue {
        .object(
            JSONObject([
                ("texts", .integer(texts)), ("embedding_cosine_mean", Report.number(meanCosine)),
                ("embedding_cosine_min", Report.number(minCosine)),
            ]))
    }
}
