import JSON
import ModelFormats
import Synchronization

/// What finished evaluations measured, for `/metrics`: how many ran, per model kind, the
/// distribution of decoders' mean KL divergence, and sums from which a dashboard takes means (the
/// quantized-to-original perplexity ratio, top-1 agreement, encoders' mean embedding cosine).
final class EvaluationCounters: Sendable {
    static let klBuckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

    struct Values {
        var decoders = 0
        var encoders = 0
        var klCounts = [Int](repeating: 0, count: EvaluationCounters.klBuckets.count + 1)
        var klSum = 0.0
        var perplexityRatioSum = 0.0
        var top1Sum = 0.0
        var cosineSum = 0.0
    }

    private let values = Mutex(Values())

    /// Records a report's `evaluation` object (decoder or encoder).
    func record(_ evaluation: JSONValue) {
        guard let object = evaluation.objectValue else { return }
        values.withLock { v in
            if let cosine = object["embedding_cosine_mean"]?.doubleValue {
                v.encoders += 1
                v.cosineSum += cosine
            } else if let kl = object["kl_divergence_mean"]?.doubleValue {
                v.decoders += 1
                v.klCounts[Self.klBuckets.firstIndex { kl <= $0 } ?? Self.klBuckets.count] += 1
                v.klSum += kl
                if let original = object["perplexity_original"]?.doubleValue,
                    let quantized = object["perplexity_quantized"]?.doubleValue, original > 0
                {
                    v.perplexityRatioSum += quantized / original
                }
                v.top1Sum += object["top1_agreement"]?.doubleValue ?? 0
            }
        }
    }

    func render(histogram: (String, String, [Double], [Int], Double) -> String) -> String {
        let v = values.withLock { $0 }
        var out =
            "# HELP quantd_evaluations_total Finished model evaluations, by model kind.\n# TYPE quantd_evaluations_total counter\n"
        out +=
            "quantd_evaluations_total{model=\"decoder\"} \(v.decoders)\nquantd_evaluations_total{model=\"encoder\"} \(v.encoders)\n"
        out += histogram(
            "quantd_evaluation_kl_divergence", "Mean KL divergence per token of each decoder evaluation.", Self.klBuckets,
            v.klCounts, v.klSum)
        out += "# HELP quantd_evaluation_perplexity_ratio_sum Sum over decoder evaluations of quantized / original perplexity.\n"
        out +=
            "# TYPE quantd_evaluation_perplexity_ratio_sum counter\nquantd_evaluation_perplexity_ratio_sum \(v.perplexityRatioSum)\n"
        out += "# HELP quantd_evaluation_top1_agreement_sum Sum over decoder evaluations of top-1 agreement.\n"
        out += "# TYPE quantd_evaluation_top1_agreement_sum counter\nquantd_evaluation_top1_agreement_sum \(v.top1Sum)\n"
        out += "# HELP quantd_evaluation_embedding_cosine_sum Sum over encoder evaluations of the mean embedding cosine.\n"
        out += "# TYPE quantd_evaluation_embedding_cosine_sum counter\nquantd_evaluation_embedding_cosine_sum \(v.cosineSum)\n"
        return out
    }
}
