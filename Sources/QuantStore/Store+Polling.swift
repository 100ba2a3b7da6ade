import Digest

/// What a poll of one job finds: the job, a key that is not valid, or no such job for that key's
/// tenant (another tenant's job answers exactly like a missing one).
public enum PolledJob: Sendable {
    case job(JobRecord)
    case unauthorized
    case notFound
}

extension Store {
    /// `GET /v1/jobs/{id}` in one statement: the key check and the job row in a single read
    /// transaction. Polling is the service's hottest path, and each SQLite read transaction takes
    /// the WAL index locks once; doing auth and lookup separately took them twice per request.
    public func poll(job id: String, key: String) throws -> PolledJob {
        guard let hash = Self.keyHash(key) else { return .unauthorized }
        let found: PolledJob? = try hot.with { connection in
            try connection.first(JobRecord.selectPolled, [.text(id), .blob(hash)]) { row in
                // Column 0 is the key's tenant; the job's columns follow, NULL when there is no job.
                row.isNull(1) ? PolledJob.notFound : PolledJob.job(try JobRecord(hotRow: row, firstColumn: 1))
            }
        }
        return found ?? .unauthorized
    }
}
