/// Decoding a job row read by `HotReads`, column by column in `CodingKeys` order: the SELECT is built
/// from the same list, so the two cannot drift apart (a test compares it with GRDB's decoding).
extension JobRecord {
    static let selectByIDAndTenant =
        "SELECT " + CodingKeys.allCases.map(\.rawValue).joined(separator: ", ") + " FROM jobs WHERE id = ? AND tenant_id = ?"

    /// The key's tenant, then the job's columns (all NULL when that tenant has no such job); no row
    /// at all when the key is unknown or revoked.
    static let selectPolled =
        "SELECT k.tenant_id, " + CodingKeys.allCases.map { "j." + $0.rawValue }.joined(separator: ", ")
        + " FROM api_keys k LEFT JOIN jobs j ON j.id = ? AND j.tenant_id = k.tenant_id WHERE k.key_hash = ? AND k.revoked_at IS NULL"

    init(hotRow row: HotReads.Row, firstColumn: Int32 = 0) throws {
        var column = firstColumn
        func next() -> Int32 {
            defer { column += 1 }
            return column
        }
        func required<T>(_ value: T?, _ key: CodingKeys) throws -> T {
            guard let value else { throw StoreError.invalid("job row has no \(key.rawValue)") }
            return value
        }
        id = try required(row.text(next()), .id)
        tenantId = try required(row.text(next()), .tenantId)
        modelId = try required(row.text(next()), .modelId)
        name = row.text(next())
        recipe = try required(row.text(next()), .recipe)
        state = try required(row.text(next()).flatMap(JobState.init(rawValue:)), .state)
        attempt = Int(try required(row.int64(next()), .attempt))
        maxAttempts = Int(try required(row.int64(next()), .maxAttempts))
        leaseOwner = row.text(next())
        leaseExpiresAt = row.double(next())
        notBefore = try required(row.double(next()), .notBefore)
        progressDone = row.int64(next())
        progressTotal = row.int64(next())
        cancelRequested = try required(row.int64(next()), .cancelRequested) != 0
        errorCode = row.text(next())
        errorMessage = row.text(next())
        createdAt = try required(row.double(next()), .createdAt)
        startedAt = row.double(next())
        finishedAt = row.double(next())
        updatedAt = try required(row.double(next()), .updatedAt)
        idempotencyKey = row.text(next())
        requestHash = row.text(next())
        artifactPath = row.text(next())
        artifactSize = row.int64(next())
        artifactSha256 = row.text(next())
        summary = row.text(next())
        expiresAt = row.double(next())
        datasetId = row.text(next())
        kind = try required(row.text(next()), .kind)
        training = row.text(next())
        progressStage = row.text(next())
        guard Int(column - firstColumn) == CodingKeys.allCases.count else {
            throw StoreError.invalid("job row decoding read \(column) of \(CodingKeys.allCases.count) columns")
        }
    }
}
