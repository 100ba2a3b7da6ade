import JSON
import Prometheus

/// What finished evaluations measured, for `/metrics`: how many ran, per model kind, the
/// distribution of decoders' mean KL divergence, and sums from which a dashboard takes means (the
/// quantized-to-original perplexity ratio, top-1 agreement, encoders' mean embedding cosine).
final class EvaluationCounters: Sendable {
    static let klBuckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

    private let decoders: Counter
    private let encoders: Counter
    private let kl: ValueHistogram
    private let perplexityRatioSum: Counter
    private let top1Sum: Counter
    private let cosineSum: Counter

    init(registry: PrometheusCollectorRegistry) {
        let evaluations = MetricNameDescriptor.quantd("evaluations", "total", "Finished model evaluations, by model kind.")
        decoders = registry.makeCounter(descriptor: evaluations, labels: [("model", "decoder")])
        encoders = registry.makeCounter(descriptor: evaluations, labels: [("model", "encoder")])
        kl = registry.makeValueHistogram(
            descriptor: .quantd("evaluation_kl_divergence", "", "Mean KL divergence per token of each decoder evaluation."),
            labels: [],
            buckets: Self.klBuckets)
        perplexityRatioSum = registry.makeCounter(
            descriptor: .quantd(
                "evaluation_perplexity_ratio", "sum", "Sum over decoder evaluations of quantized / original perplexity."),
            labels: [])
        top1Sum = registry.makeCounter(
            descriptor: .quantd("evaluation_top1_agreement", "sum", "Sum over decoder evaluations of top-1 agreement."),
            labels: [])
        cosineSum = registry.makeCounter(
            descriptor: .quantd(
                "evaluation_embedding_cosine", "sum", "Sum over encoder evaluations of the mean embedding cosine."),
            labels: [])
    }

    /// Records a report's `evaluation` object (decoder or encoder).
    func record(_ evaluation: JSONValue) {
        guard let object = evaluation.objectValue else { return }
        if let cosine = object["embedding_cosine_mean"]?.doubleValue {
            encoders.increment()
            cosineSum.increment(by: cosine)
        } else if let divergence = object["kl_divergence_mean"]?.doubleValue {
            decoders.increment()
            kl.record(divergence)
            if let original = object["perplexity_original"]?.doubleValue,
                let quantized = object["perplexity_quantized"]?.doubleValue, original > 0
            {
                perplexityRatioSum.increment(by: quantized / original)
            }
            top1Sum.increment(by: object["top1_agreement"]?.doubleValue ?? 0)
        }
    }
}
