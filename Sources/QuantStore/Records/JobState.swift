/// The life of a job. Every change is one transaction and one event; anything not listed in
/// `allowedNext` is an illegal transition and an error.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }

    public var allowedNext: Set<JobState> {
        switch self {
        case .queued: [.running, .cancelled]
        case .running: [.succeeded, .failed, .cancelled, .queued]
        case .succeeded, .failed, .cancelled: []
        }
    }

    public func canTransition(to next: JobState) -> Bool { allowedNext.contains(next) }

    /// The state as an SQL string literal, for statements that name a state. Only these constants
    /// are spliced into SQL, never a value from a request.
    var sql: String { "'\(rawValue)'" }

    /// Queued and running: the states of jobs that still need their model and dataset.
    static let active: [JobState] = allCases.filter { !$0.isTerminal }
    /// `active` as an SQL list, `('queued', 'running')`.
    static let activeSQL = "(\(active.map(\.sql).joined(separator: ", ")))"
}

/// Store errors, each with a stable code for the HTTP layer to map.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    case notFound(String)
    case illegalTransition(job: String, from: JobState, to: JobState)
    /// A worker's update names an attempt or state the job no longer has.
    case staleWorker(job: String)
    case idempotencyConflict(key: String)
    case quotaExceeded(String)
    case conflict(String)
    case invalid(String)
    /// The database cannot be reached now (a shared server restarting, a network cut); retry later.
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) not found"
        case .illegalTransition(let job, let from, let to): "job \(job) cannot go from \(from.rawValue) to \(to.rawValue)"
        case .staleWorker(let job): "job \(job) is no longer held by this worker attempt"
        case .idempotencyConflict(let key): "Idempotency-Key '\(key)' was already used with a different request"
        case .quotaExceeded(let message): message
        case .conflict(let message): message
        case .invalid(let message): message
        case .unavailable(let message): message
        }
    }
}
