/// The writes that end a running attempt with an error or a cancel, the same on both engines: the
/// rules are `JobRecord`'s (RecordChanges), the statements each engine's (`runningAttempt`,
/// `leaveRunning`), and both run in one write transaction.
protocol RunningAttemptWrites {
    associatedtype Transaction
    var clock: @Sendable () -> Double { get }
    func writeTransaction<T>(_ body: (Transaction) throws -> T) throws -> T
    /// The running attempt `attempt` of job `id` (locked where the engine locks rows); anything else
    /// means the caller is a stale worker.
    static func runningAttempt(_ transaction: Transaction, id: String, attempt: Int) throws -> JobRecord
    /// Leaves `running` (`JobRecord.leaveRunning`), then saves the row and its event.
    static func leaveRunning(
        _ transaction: Transaction, _ job: inout JobRecord, to next: JobState, reason: String, at now: Double
    ) throws
}

extension RunningAttemptWrites {
    /// Ends an attempt with an error. A transient one goes back to the queue after `retryDelay`
    /// while attempts remain; a permanent one (or the last attempt) fails the job with the reason.
    func fail(job id: String, attempt: Int, code: String, message: String, transient: Bool, retryDelay: Double) throws -> JobState
    {
        try writeTransaction { transaction in
            var job = try Self.runningAttempt(transaction, id: id, attempt: attempt)
            let now = clock()
            let (next, reason) = job.recordFailure(
                code: code, message: message, transient: transient, retryDelay: retryDelay, now: now)
            try Self.leaveRunning(transaction, &job, to: next, reason: reason, at: now)
            return job.state
        }
    }

    /// A running attempt that saw its cancel request stops here.
    func markCancelled(job id: String, attempt: Int) throws {
        try writeTransaction { transaction in
            var job = try Self.runningAttempt(transaction, id: id, attempt: attempt)
            try Self.leaveRunning(transaction, &job, to: .cancelled, reason: "cancelled by request", at: clock())
        }
    }
}
