import Foundation
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
        let context = text.context, chunks = text.count, windows = text.windows
        var baseNLL = 0.0, candidateNLL = 0.0, scored = 0, same = 0
        var divergences: [Double] = []
        let first = context / 2
        // All chunks through each model layer by layer (each weight decoded once), then the heads
        // chunk by chunk, one head in memory at a time.
        let steps = (candidate == nil ? 1 : 2) * base.spec.layers + chunks
        let baseHidden = try base.hiddenStates(windows, progress: { layer, _ in progress?(layer, steps) }, isCancelled: isCancelled)
        let candidateHidden = try candidate?.hiddenStates(windows, progress: { layer, _ in progress?(base.spec.layers + layer, steps) }, isCancelled: isCancelled)
        for chunk in 0..<chunks {
            if isCancelled?() == true { throw PipelineError.cancelled }
            let window = windows[chunk]
            let baseLogits = BLAS.multiplyTransposed(baseHidden[chunk], try base.head())
            let candidateLogits = try candidateHidden.map { BLAS.multiplyTransposed($0[chunk], try candidate!.head()) }
            for position in first..<(context - 1) {
                let target = window[position + 1]
                let p = logSoftmax(baseLogits, row: position)
                baseNLL -= p.values[target]
                scored += 1
                guard let candidateLogits else { continue }
                let q = logSoftmax(candidateLogits, row: position)
                candidateNLL -= q.values[target]
                var divergence = 0.0
                for i in 0..<p.values.count where p.values[i] > -16 { divergence += exp(p.values[i]) * (p.values[i] - q.values[i]) }
                divergences.append(divergence)
                if p.top == q.top { same += 1 }
            }
            progress?(steps - chunks + chunk + 1, steps)
        }
        var result = DecoderEvaluation(chunks: chunks, context: context, tokensScored: scored, perplexity: exp(baseNLL / Double(scored)))
        if candidate != nil {
            result.candidatePerplexity = exp(candidateNLL / Double(scored))
            result.meanKL = divergences.reduce(0, +) / Double(divergences.count)
            let sorted = divergences.sorted()
            result.p99KL = sorted[Swift.min(sorted.count - 1, Int((0.99 * Double(sorted.count)).rounded(.up)) - 1)]
            result.top1Agreement = Double(same) / Double(scored)
        }
        return result
    }

    /// Log-probabilities of one row (in double), and its most likely token.
    static func logSoftmax(_ logits: Matrix, row: Int) -> (values: [Double], top: Int) {
        let start = row * logits.cols
        var largest = -Double.infinity, top = 0
        for i in 0..<logits.cols where Double(logits.values[start + i]) > largest {
            largest = Double(logits.values[start + i])
            top = i
        }
        var total = 0.0
        for i in 0..<logits.cols { total += exp(Double(logits.values[start + i]) - largest) }
        let shift = largest + log(total)
        return ((0..<logits.cols).map { Double(logits.values[start + $0]) - shift }, top)
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
