import Foundation
import GRDB

/// Calibration datasets: uploaded, listed and deleted like models, under the same tenant rules and
/// the same storage quota.
extension SQLiteTenantScope {
    func addDataset(_ dataset: TenantScope.NewDataset, placeBlob: () throws -> Void) throws -> DatasetRecord {
        try addBlobRow(size: dataset.size, placeBlob: placeBlob) {
            DatasetRecord(dataset, tenantID: tenantID, now: store.clock())
        }
    }

    func dataset(_ id: String) throws -> DatasetRecord { try row(DatasetRecord.self, id) }

    func datasets(limit: Int) throws -> [DatasetRecord] { try rows(DatasetRecord.self, limit: limit) }

    /// Deletes a dataset; a conflict while queued or running jobs use it. Finished jobs keep their
    /// artifacts and reports (their reference is cleared). Removes the blob when nothing else (a
    /// model or dataset of any tenant) names it.
    func deleteDataset(_ id: String, removeBlob: (String) -> Void) throws -> String? {
        try deleteBlobRow(
            DatasetRecord.self, id, usedBy: JobRecord.Columns.datasetId, busy: "wait for them or cancel them first",
            removeBlob: removeBlob
        ).blobPath
    }

    /// Removes a blob inside the write transaction once no model or dataset row names it.
    func removeIfUnnamed(_ db: Database, _ path: String, _ removeBlob: (String) -> Void) throws -> String? {
        let named =
            try ModelRecord.filter(ModelRecord.columns.blobPath == path).fetchCount(db)
            + DatasetRecord.filter(DatasetRecord.columns.blobPath == path).fetchCount(db)
        guard named == 0 else { return nil }
        removeBlob(path)
        return path
    }

    /// Models and datasets share one storage quota per tenant.
    func checkStorageQuota(_ db: Database, adding size: Int64) throws {
        guard let tenant = try Tenant.fetchOne(db, key: tenantID) else { return }
        let used =
            try Int64.fetchOne(
                db,
                sql:
                    "SELECT (SELECT COALESCE(SUM(size), 0) FROM models WHERE tenant_id = ?) + (SELECT COALESCE(SUM(size), 0) FROM datasets WHERE tenant_id = ?)",
                arguments: [tenantID, tenantID]) ?? 0
        if used + size > tenant.maxStorageBytes {
            throw StoreError.quotaExceeded(
                "storage quota of \(tenant.maxStorageBytes) bytes exceeded; delete models or datasets first")
        }
    }
}
