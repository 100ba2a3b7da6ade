import Foundation
import Prometheus
import QuantStore
import Synchronization

/// The HTTP layer's metrics (requests by route and status, their durations), in the service's
/// registry beside the job counters, and the rendering of `/metrics`: the gauges read from the
/// database at each scrape, then the registry in Prometheus' text format.
public final class HTTPMetrics: Sendable {
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]

    /// A counter's labels (a struct, so a request builds no string to find its counter).
    struct RouteStatus: Hashable {
        let route: String
        let status: Int
    }

    private let registry: PrometheusCollectorRegistry
    /// The counter of each route and status seen, found without the registry's name lookup.
    private let requests = Mutex<[RouteStatus: Counter]>([:])
    private let duration: ValueHistogram
    private let jobs: [JobState: Gauge]
    private let queueDepth: Gauge

    /// `replica` and `database` name who renders these metrics (`quantd_replica_info`), set once.
    init(registry: PrometheusCollectorRegistry, replica: String, database: String) {
        self.registry = registry
        registry.makeGauge(
            descriptor: .quantd("replica_info", "", "The replica that rendered these metrics, and its database engine."),
            labels: [("replica", replica), ("database", database)]
        ).set(to: 1)
        duration = registry.makeValueHistogram(
            descriptor: .quantd("http_request_duration", "seconds", "HTTP request duration."), labels: [], buckets: Self.buckets)
        jobs = Dictionary(
            uniqueKeysWithValues: JobState.allCases.map { state in
                (
                    state,
                    registry.makeGauge(descriptor: .quantd("jobs", "", "Jobs by state."), labels: [("state", state.rawValue)])
                )
            })
        queueDepth = registry.makeGauge(descriptor: .quantd("queue_depth", "", "Jobs waiting for a worker."), labels: [])
    }

    func observe(route: String, status: Int, seconds: Double) {
        let key = RouteStatus(route: route, status: status)
        let counter = requests.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: .quantd("http_requests", "total", "HTTP requests by route and status."),
                labels: [("route", route), ("status", String(status))])
            counters[key] = counter
            return counter
        }
        counter.increment()
        duration.record(seconds)
    }

    /// The exposition. Which replica answered: the counters are this process's own; the job gauges
    /// are the (possibly shared) database's.
    func render(store: Store) -> String {
        let counts = (try? store.jobCounts()) ?? [:]
        for (state, gauge) in jobs { gauge.set(to: Double(counts[state] ?? 0)) }
        queueDepth.set(to: Double(counts[.queued] ?? 0))
        return registry.emitToString()
    }
}
