import Foundation
import JSON
import ModelFormats

/// What a quantization did to a decoder, measured as llama.cpp's `llama-perplexity
/// --kl-divergence` measures it: the text cut into chunks of `context` tokens (the first replaced
/// by BOS when the tokenizer adds one), each chunk's second half scored. Perplexity is exp of the
/// mean negative log-likelihood of the next token; KL divergence is, per token, the sum over the
/// vocabulary of p_base (log p_base - log p), skipping p_base below e^-16 as llama.cpp does; top-1
/// agreement is how often both pick the same most likely token.
public struct DecoderEvaluation: Sendable {
    public var chunks: Int
    public var context: Int
    public var tokensScored: Int
    public var perplexity: Double
    public var candidatePerplexity: Double?
    public var meanKL: Double?
    public var p99KL: Double?
    public var top1Agreement: Double?

    public static func run(
        _ text: TextChunks, base: DecoderForward, candidate: DecoderForward?,
        progress: ((Int, Int) -> Void)? = nil, isCancelled: (() -> Bool)? = nil
    ) throws -> DecoderEvaluation {
        let context = text.context
        let chunks = text.count
        let windows = text.windows
        var baseNLL = 0.0
        var candidateNLL = 0.0
        var scored = 0
        var same = 0
        var divergences: [Double] = []
        let first = context / 2
        // All chunks through each model layer by layer (each weight decoded once), then the heads
        // chunk by chunk, one head in memory at a time.
        let steps = (candidate == nil ? 1 : 2) * base.spec.layers + chunks
        let baseHidden = try base.hiddenStates(
            windows, progress: { layer, _ in progress?(layer, steps) }, isCancelled: isCancelled)
        let candidateHidden = try candidate?.hiddenStates(
            windows, progress: { layer, _ in progress?(base.spec.layers + layer, steps) }, isCancelled: isCancelled)
        // Only the scored positions need logits (as llama-perplexity asks llama.cpp for them).
        let scoredRows = first..<(context - 1)
        for chunk in 0..<chunks {
            if isCancelled?() == true { throw PipelineError.cancelled }
            let window = windows[chunk]
            let baseLogits = BLAS.multiplyTransposed(baseHidden[chunk].rows(scoredRows), try base.head())
            let candidateLogits = try candidateHidden.map {
                BLAS.multiplyTransposed($0[chunk].rows(scoredRows), try candidate!.head())
            }
            for position in scoredRows {
                let target = window[position + 1]
                let p = logSoftmax(baseLogits, row: position - first)
                baseNLL -= p.values[target]
                scored += 1
                guard let candidateLogits else { continue }
                let q = logSoftmax(candidateLogits, row: position - first)
                candidateNLL -= q.values[target]
                var divergence = 0.0
                for i in 0..<p.values.count where p.values[i] > -16 {
                    divergence += p.probabilities[i] * (p.values[i] - q.values[i])
                }
                divergences.append(divergence)
                if p.top == q.top { same += 1 }
            }
            progress?(steps - chunks + chunk + 1, steps)
        }
        var result = DecoderEvaluation(
            chunks: chunks, context: context, tokensScored: scored, perplexity: exp(baseNLL / Double(scored)))
        if candidate != nil {
            result.candidatePerplexity = exp(candidateNLL / Double(scored))
            result.meanKL = divergences.reduce(0, +) / Double(divergences.count)
            let sorted = divergences.sorted()
            result.p99KL = sorted[Swift.min(sorted.count - 1, Int((0.99 * Double(sorted.count)).rounded(.up)) - 1)]
            result.top1Agreement = Double(same) / Double(scored)
        }
        return result
    }

    /// Log-probabilities and probabilities of one row (in double), and its most likely token.
    static func logSoftmax(_ logits: Matrix, row: Int) -> (values: [Double], probabilities: [Double], top: Int) {
        let start = row * logits.cols
        let count = logits.cols
        var largest = -Double.infinity
        var top = 0
        for i in 0..<count where Double(logits.values[start + i]) > largest {
            largest = Double(logits.values[start + i])
            top = i
        }
        var probabilities = [Double](repeating: 0, count: count)
        var total = 0.0
        for i in 0..<count {
            let e = exp(Double(logits.values[start + i]) - largest)
            probabilities[i] = e
            total += e
        }
        let shift = largest + log(total)
        let inverse = 1 / total
        var values = [Double](repeating: 0, count: count)
        for i in 0..<count {
            values[i] = Double(logits.values[start + i]) - shift
            probabilities[i] *= inverse
        }
        return (values, probabilities, top)
    }

    /// The report's `evaluation` object.
    public var json: JSONValue {
        var object = JSONObject([
            ("chunks", .integer(chunks)), ("context", .integer(context)), ("tokens_scored", .integer(tokensScored)),
            ("perplexity_original", Report.number(perplexity)),
        ])
        if let candidatePerplexity { object["perplexity_quantized"] = Report.number(candidatePerplexity) }
        if let meanKL { object["kl_divergence_mean"] = Report.number(meanKL) }
        if let p99KL { object["kl_divergence_p99"] = Report.number(p99KL) }
        if let top1Agreement { object["top1_agreement"] = Report.number(top1Agreement) }
        return .object(object)
    }
}
