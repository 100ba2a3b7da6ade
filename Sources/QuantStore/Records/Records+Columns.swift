import GRDB

// The columns the SQLite store filters and orders on, named from each record's CodingKeys, so a
// renamed column is renamed in one place (GRDB's recommended record layout).

extension Tenant {
    public enum Columns {
        static let name = Column(CodingKeys.name)
    }
}

extension APIKey {
    public enum Columns {
        static let prefix = Column(CodingKeys.prefix)
        static let keyHash = Column(CodingKeys.keyHash)
        static let isAdmin = Column(CodingKeys.isAdmin)
        static let revokedAt = Column(CodingKeys.revokedAt)
    }
}

/// Models and datasets: a tenant's rows that own a stored file, looked up, listed and deleted alike.
protocol TenantBlobRow: FetchableRecord, PersistableRecord {
    /// "model" or "dataset", for messages.
    static var noun: String { get }
    static var columns: TenantBlobColumns { get }
    var blobPath: String { get }
}

/// The columns the store filters such rows on, named by the record's CodingKeys.
struct TenantBlobColumns {
    let id: Column
    let tenantId: Column
    let createdAt: Column
    let blobPath: Column

    init(_ id: some CodingKey, _ tenantId: some CodingKey, _ createdAt: some CodingKey, _ blobPath: some CodingKey) {
        (self.id, self.tenantId, self.createdAt, self.blobPath) = (
            Column(id), Column(tenantId), Column(createdAt), Column(blobPath)
        )
    }
}

extension ModelRecord: TenantBlobRow {
    static let noun = "model"
    static let columns = TenantBlobColumns(CodingKeys.id, CodingKeys.tenantId, CodingKeys.createdAt, CodingKeys.blobPath)
}

extension DatasetRecord: TenantBlobRow {
    static let noun = "dataset"
    static let columns = TenantBlobColumns(CodingKeys.id, CodingKeys.tenantId, CodingKeys.createdAt, CodingKeys.blobPath)
}

extension JobRecord {
    public enum Columns {
        static let id = Column(CodingKeys.id)
        static let tenantId = Column(CodingKeys.tenantId)
        static let modelId = Column(CodingKeys.modelId)
        static let datasetId = Column(CodingKeys.datasetId)
        static let state = Column(CodingKeys.state)
        static let idempotencyKey = Column(CodingKeys.idempotencyKey)
        static let leaseExpiresAt = Column(CodingKeys.leaseExpiresAt)
        static let createdAt = Column(CodingKeys.createdAt)
    }
}

extension JobEvent {
    public enum Columns {
        static let id = Column(CodingKeys.id)
        static let jobId = Column(CodingKeys.jobId)
    }
}

extension TensorMetricRecord {
    public enum Columns {
        static let jobId = Column(CodingKeys.jobId)
        static let position = Column(CodingKeys.position)
    }
}

extension EpochMetricRecord {
    public enum Columns {
        static let jobId = Column(CodingKeys.jobId)
        static let epoch = Column(CodingKeys.epoch)
    }
}
