import Prometheus
import QuantStore

/// The service's metrics registry (swift-prometheus), with the counters the job runner, the workers
/// and the uploads update: finished attempts by state, their durations (a histogram), bytes in and
/// out, errors no caller could answer, and what evaluations measured. The HTTP layer adds its own
/// (`HTTPMetrics`) to the same registry; quantd also makes it the swift-metrics backend, so anything
/// a library records through swift-metrics is on /metrics too.
public final class ServiceCounters: Sendable {
    public static let durationBuckets: [Double] = [0.1, 0.5, 1, 5, 15, 60, 300, 1800]
    /// Where an unexpected error happened: the HTTP layer or a worker.
    public static let places = ["http", "worker"]

    public let registry = PrometheusCollectorRegistry()
    private let attempts: [JobState: Counter]
    private let durations: ValueHistogram
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let unexpected: [String: Counter]
    /// What finished evaluations measured.
    let evaluations: EvaluationCounters

    public init() {
        let registry = registry
        attempts = Dictionary(
            uniqueKeysWithValues: JobState.allCases.filter(\.isTerminal).map { state in
                (
                    state,
                    registry.makeCounter(
                        descriptor: .quantd(
                            "job_attempts", "total", "Finished job attempts by the state they ended in (this process)."),
                        labels: [("state", state.rawValue)])
                )
            })
        durations = registry.makeValueHistogram(
            descriptor: .quantd("job_duration", "seconds", "Duration of finished job attempts."), labels: [],
            buckets: Self.durationBuckets)
        bytesIn = registry.makeCounter(descriptor: .quantd("bytes_in", "total", "Bytes uploaded."), labels: [])
        bytesOut = registry.makeCounter(
            descriptor: .quantd("bytes_out", "total", "Bytes of artifacts written and served."), labels: [])
        unexpected = Dictionary(
            uniqueKeysWithValues: Self.places.map { place in
                (
                    place,
                    registry.makeCounter(
                        descriptor: .quantd("unexpected_errors", "total", "Errors no caller could answer (logged), by where."),
                        labels: [("where", place)])
                )
            })
        evaluations = EvaluationCounters(registry: registry)
    }

    func jobFinished(state: JobState, seconds: Double, bytesOut count: Int64) {
        attempts[state]?.increment()
        durations.record(seconds)
        bytesOut.increment(by: count)
    }

    /// Counts an error that no caller could answer (`quantd_unexpected_errors_total`).
    public func unexpected(_ place: String) { unexpected[place]?.increment() }

    public func addBytesIn(_ count: Int64) { bytesIn.increment(by: count) }
    public func addBytesOut(_ count: Int64) { bytesOut.increment(by: count) }
}

extension MetricNameDescriptor {
    /// `quantd_<name>_<unit>` with its help text.
    static func quantd(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "quantd", metricName: name, unitName: unit, helpText: help)
    }
}
