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

extension ModelRecord {
    public enum Columns {
        static let id = Column(CodingKeys.id)
        static let tenantId = Column(CodingKeys.tenantId)
        static let blobPath = Column(CodingKeys.blobPath)
        static let createdAt = Column(CodingKeys.createdAt)
    }
}

extension DatasetRecord {
    public enum Columns {
        static let id = Column(CodingKeys.id)
        static let tenantId = Column(CodingKeys.tenantId)
        static let blobPath = Column(CodingKeys.blobPath)
        static let createdAt = Column(CodingKeys.createdAt)
    }
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
