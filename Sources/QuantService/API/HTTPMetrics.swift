import Foundation
import QuantStore
import Synchronization

/// Prometheus metrics of the HTTP layer, plus the job and byte counters, in the text format.
public final class HTTPMetrics: Sendable {
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]

    /// A counter's labels (a struct, so a request builds no string to count itself).
    struct RouteStatus: Hashable {
        let route: String
        let status: Int
    }

    struct Values {
        var requests: [RouteStatus: Int] = [:]
        var durationCounts = [Int](repeating: 0, count: HTTPMetrics.buckets.count + 1)
        var durationSum: Double = 0
        var durationCount = 0
    }

    private let values = Mutex(Values())

    func observe(route: String, status: Int, seconds: Double) {
        values.withLock { v in
            v.requests[RouteStatus(route: route, status: status), default: 0] += 1
            let bucket = Self.buckets.firstIndex { seconds <= $0 } ?? Self.buckets.count
            v.durationCounts[bucket] += 1
            v.durationSum += seconds
            v.durationCount += 1
        }
    }

    func render(store: Store, counters: ServiceCounters, replica: String) -> String {
        let v = values.withLock { $0 }
        // Which replica answered: the counters below are this process's own; the job gauges are the
        // shared database's.
        var out =
            "# HELP quantd_replica_info The replica that rendered these metrics, and its database engine.\n# TYPE quantd_replica_info gauge\n"
        out += "quantd_replica_info{replica=\"\(replica)\",database=\"\(store.isShared ? "postgresql" : "sqlite")\"} 1\n"
        out += "# HELP quantd_http_requests_total HTTP requests by route and status.\n# TYPE quantd_http_requests_total counter\n"
        for (key, count) in v.requests.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
            out += "quantd_http_requests_total{route=\"\(key.route)\",status=\"\(key.status)\"} \(count)\n"
        }
        out += histogram(
            "quantd_http_request_duration_seconds", "HTTP request duration.", Self.buckets, v.durationCounts, v.durationSum)
        let counts = (try? store.jobCounts()) ?? [:]
        out += "# HELP quantd_jobs Jobs by state.\n# TYPE quantd_jobs gauge\n"
        for state in JobState.allCases { out += "quantd_jobs{state=\"\(state.rawValue)\"} \(counts[state] ?? 0)\n" }
        out +=
            "# HELP quantd_queue_depth Jobs waiting for a worker.\n# TYPE quantd_queue_depth gauge\nquantd_queue_depth \(counts[.queued] ?? 0)\n"
        let unexpected = counters.unexpectedErrors
        out +=
            "# HELP quantd_unexpected_errors_total Errors no caller could answer (logged), by where.\n# TYPE quantd_unexpected_errors_total counter\n"
        for place in ["http", "worker"] {
            out += "quantd_unexpected_errors_total{where=\"\(place)\"} \(unexpected[place] ?? 0)\n"
        }
        let attempts = counters.finishedJobs
        out +=
            "# HELP quantd_job_attempts_total Finished job attempts by the state they ended in (this process).\n# TYPE quantd_job_attempts_total counter\n"
        for state in JobState.allCases where state.isTerminal {
            out += "quantd_job_attempts_total{state=\"\(state.rawValue)\"} \(attempts[state] ?? 0)\n"
        }
        let durations = counters.durations
        out += histogram(
            "quantd_job_duration_seconds", "Duration of finished job attempts.", ServiceCounters.durationBuckets,
            durations.counts, durations.sum)
        out +=
            "# HELP quantd_bytes_in_total Bytes uploaded.\n# TYPE quantd_bytes_in_total counter\nquantd_bytes_in_total \(counters.bytesIn)\n"
        out +=
            "# HELP quantd_bytes_out_total Bytes of artifacts written and served.\n# TYPE quantd_bytes_out_total counter\nquantd_bytes_out_total \(counters.bytesOut)\n"
        out += counters.evaluations.render(histogram: histogram)
        return out
    }

    func histogram(_ name: String, _ help: String, _ bounds: [Double], _ counts: [Int], _ sum: Double) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += counts[index]
            out += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += counts[bounds.count]
        out += "\(name)_bucket{le=\"+Inf\"} \(cumulative)\n\(name)_sum \(sum)\n\(name)_count \(cumulative)\n"
        return out
    }
}
