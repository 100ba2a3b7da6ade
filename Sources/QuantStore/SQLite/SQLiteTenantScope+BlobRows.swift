import GRDB

/// Lookups shared by models and datasets: one of the tenant's rows by id, the newest first.
extension SQLiteTenantScope {
    /// The tenant's row `id`, or not found (another tenant's row is not found either).
    func row<Row: TenantBlobRow>(_ type: Row.Type, _ id: String, in db: Database) throws -> Row {
        guard let row = try Row.filter(Row.columns.id == id && Row.columns.tenantId == tenantID).fetchOne(db) else {
            throw StoreError.notFound("\(Row.noun) \(id)")
        }
        return row
    }

    func row<Row: TenantBlobRow>(_ type: Row.Type, _ id: String) throws -> Row {
        try pool.read { db in try row(type, id, in: db) }
    }

    func rows<Row: TenantBlobRow>(_ type: Row.Type, limit: Int) throws -> [Row] {
        try pool.read { db in
            try Row.filter(Row.columns.tenantId == tenantID).order(Row.columns.createdAt.desc, Row.columns.id.desc).limit(limit)
                .fetchAll(db)
        }
    }

    /// Whether the tenant has row `id`.
    func owns<Row: TenantBlobRow>(_ type: Row.Type, _ id: String, in db: Database) throws -> Bool {
        try Row.filter(Row.columns.id == id && Row.columns.tenantId == tenantID).fetchCount(db) == 1
    }
}
