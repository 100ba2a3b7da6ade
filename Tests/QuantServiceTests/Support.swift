import Foundation
import ModelFormats
import QuantCore
import QuantService
import QuantStore
import QuantTesting

/// A data directory in a fresh temporary folder with one tenant, removed at the end.
final class ServiceFixture: @unchecked Sendable {
    let root: URL
    let data: DataDirectory
    let store: Store
    let tenant: Tenant

    init(root: URL? = nil) throws {
        self.root = root ?? FileManager.default.temporaryDirectory.appendingPathComponent("qs-service-\(UUID().uuidString)")
        data = DataDirectory(root: self.root.path)
        store = try data.openStore()
        tenant = try store.createTenant(name: "acme", maxQueuedJobs: 10_000)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    var scope: TenantScope { store.scope(tenant.id) }

    /// Writes a model of `tensors` F32 (or `dtype`) tensors of `rows x cols` and imports it.
    func model(tensors: Int = 2, rows: Int = 16, cols: Int = 64, dtype: DType = .f32, seed: UInt64 = 1) throws -> ModelRecord {
        let path = root.appendingPathComponent("model-\(UUID().uuidString).safetensors").path
        var rng = SplitMix64(seed: seed)
        let specs = (0..<tensors).map { TensorSpec(name: "layers.\($0).weight", dtype: dtype, shape: [rows, cols]) }
        let writer = try SafetensorsWriter(path: path, tensors: specs)
        for _ in specs {
            let values = (0..<(rows * cols)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 250 }
            try writer.write(try FloatCodec.fromFloat32(dtype, values))
        }
        try writer.finish()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try BlobStore(data: data).addModel(path, name: "m", scope: scope)
    }

    func submit(_ model: ModelRecord, recipe: String = #"{"preset": "int8"}"#, maxAttempts: Int = 3) throws -> JobRecord {
        try scope.submit(.init(modelID: model.id, recipe: recipe, maxAttempts: maxAttempts)).job
    }

    func wait(for id: String, timeout: Double = 60, until: (JobRecord) -> Bool) throws -> JobRecord {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let job = try scope.job(id)
            if until(job) { return job }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ServiceError.invalid("timed out waiting for job \(id): \(try scope.job(id))")
    }

    /// Every file under the data directory except the database.
    var files: [String] {
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: root.path) else { return [] }
        var out: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = root.appendingPathComponent(relative).path
            if manager.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
                !relative.hasPrefix("quant.db")
            {
                out.append(relative)
            }
        }
        return out.sorted()
    }
}

func settings(lease: Double = 30, chunkDelay: Double = 0, headroom: Int64 = 0) -> WorkerSettings {
    var settings = WorkerSettings()
    settings.leaseSeconds = lease
    settings.chunkDelay = chunkDelay
    settings.diskHeadroomBytes = headroom
    settings.pipelineThreads = 1
    return settings
}
