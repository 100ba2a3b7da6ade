import QuantStore
import Synchronization

/// In-process counters for the service metrics: finished jobs by state, their durations (a
/// histogram), and bytes in and out.
public final class ServiceCounters: Sendable {
    public static let durationBuckets: [Double] = [0.1, 0.5, 1, 5, 15, 60, 300, 1800]

    struct Values {
        var finished: [JobState: Int] = [:]
        var durationCounts = [Int](repeating: 0, count: ServiceCounters.durationBuckets.count + 1)
        var durationSum: Double = 0
        var bytesIn: Int64 = 0
        var bytesOut: Int64 = 0
        /// Errors no caller could answer, by where they happened ("http", "worker").
        var unexpected: [String: Int] = [:]
    }

    private let values = Mutex(Values())
    /// What finished evaluations measured.
    let evaluations = EvaluationCounters()

    public init() {}

    func jobFinished(state: JobState, seconds: Double, bytesOut: Int64) {
        values.withLock { v in
            v.finished[state, default: 0] += 1
            let bucket = Self.durationBuckets.firstIndex { seconds <= $0 } ?? Self.durationBuckets.count
            v.durationCounts[bucket] += 1
            v.durationSum += seconds
            v.bytesOut += bytesOut
        }
    }

    /// Counts an error that no caller could answer (`quantd_unexpected_errors_total`).
    public func unexpected(_ place: String) { values.withLock { $0.unexpected[place, default: 0] += 1 } }
    public var unexpectedErrors: [String: Int] { values.withLock { $0.unexpected } }

    public func addBytesIn(_ count: Int64) { values.withLock { $0.bytesIn += count } }
    public func addBytesOut(_ count: Int64) { values.withLock { $0.bytesOut += count } }

    /// Finished attempts by the state they ended in (`quantd_job_attempts_total`).
    public var finishedJobs: [JobState: Int] { values.withLock { $0.finished } }
    public var bytesOut: Int64 { values.withLock { $0.bytesOut } }
    public var bytesIn: Int64 { values.withLock { $0.bytesIn } }
    /// Per-bucket counts (the last is +Inf) and the sum of seconds.
    public var durations: (counts: [Int], sum: Double) { values.withLock { ($0.durationCounts, $0.durationSum) } }
}
