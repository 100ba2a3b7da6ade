import Dispatch
import Foundation
import ModelFormats
import QuantService
import QuantStore
import Synchronization

/// The queue under load: `submitters` threads submit and poll `jobs` jobs on a small model while
/// `workers` workers run them, all on a real SQLite file. Used by `quant-bench queue` and the tests.
public struct QueueLoad {
    public var jobs = 2000
    public var submitters = 8
    public var workers = 2
    public var directory: String

    public init(directory: String) { self.directory = directory }

    public struct Result: Sendable {
        public var jobs: Int
        public var seconds: Double
        public var succeeded: Int
        public var distinct: Int
        public var submitErrors: [String]
        public var claimP50: Double
        public var claimP99: Double
        public var maxAttempt: Int
        public var jobsPerSecond: Double { Double(jobs) / seconds }
    }

    public func run() throws -> Result {
        let data = DataDirectory(root: directory)
        let store = try data.openStore()
        let tenants = try (0..<submitters).map { try store.createTenant(name: "load-\($0)", maxQueuedJobs: jobs) }
        let modelPath = (directory as NSString).appendingPathComponent("small.safetensors")
        let writer = try SafetensorsWriter(path: modelPath, tensors: [TensorSpec(name: "w", dtype: .f32, shape: [4, 32])])
        try writer.write(try FloatCodec.fromFloat32(.f32, (0..<128).map { Float($0 % 17) - 8 }))
        try writer.finish()
        let blobs = BlobStore(data: data)
        let models = try tenants.map { try blobs.addModel(modelPath, name: "small", scope: store.scope($0.id)) }
        var settings = WorkerSettings()
        settings.pipelineThreads = 1
        settings.progressInterval = 10
        let claims = Mutex<[Double]>([])
        settings.onClaim = { seconds in claims.withLock { $0.append(seconds) } }
        let pool = WorkerPool(store: store, data: data, workers: workers, settings: settings, poll: 0.01)
        try pool.start()
        let ids = Mutex<[String]>([])
        let errors = Mutex<[String]>([])
        let perThread = jobs / submitters
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: submitters) { index in
            let scope = store.scope(tenants[index].id)
            var mine: [String] = []
            for n in 0..<perThread {
                do {
                    let job = try scope.submit(.init(modelID: models[index].id, recipe: #"{"preset": "int8"}"#, idempotencyKey: "k\(n)", requestHash: "h"))
                    mine.append(job.job.id)
                    pool.wake()
                } catch {
                    errors.withLock { $0.append(String(describing: error)) }
                }
            }
            // Poll until every job of this submitter is finished.
            var pending = Set(mine)
            while !pending.isEmpty {
                for id in pending {
                    if let job = try? scope.job(id), job.state.isTerminal { pending.remove(id) }
                }
                if !pending.isEmpty { Thread.sleep(forTimeInterval: 0.01) }
            }
            ids.withLock { $0 += mine }
        }
        let seconds = Date().timeIntervalSince(start)
        pool.stop(deadline: 10)
        let all = ids.withLock { $0 }
        var succeeded = 0, maxAttempt = 0
        for (index, tenant) in tenants.enumerated() {
            for job in try store.scope(tenant.id).jobs(limit: 500) + (perThread > 500 ? try pagesAfterFirst(store.scope(tenant.id)) : []) {
                _ = index
                if job.state == .succeeded { succeeded += 1 }
                maxAttempt = Swift.max(maxAttempt, job.attempt)
            }
        }
        return Result(
            jobs: all.count, seconds: seconds, succeeded: succeeded, distinct: Set(all).count, submitErrors: errors.withLock { $0 },
            claimP50: Self.percentile(claims.withLock { $0 }, 50), claimP99: Self.percentile(claims.withLock { $0 }, 99),
            maxAttempt: maxAttempt)
    }

    /// A percentile (0-100) of claim durations, in seconds (0 with none).
    static func percentile(_ samples: [Double], _ percent: Double) -> Double {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[Swift.min(sorted.count - 1, Int(Double(sorted.count) * percent / 100))]
    }

    func pagesAfterFirst(_ scope: TenantScope) throws -> [JobRecord] {
        var out: [JobRecord] = []
        var cursor = try scope.jobs(limit: 500).last?.id
        while let next = cursor {
            let page = try scope.jobs(limit: 500, cursor: next)
            out += page
            cursor = page.count == 500 ? page.last?.id : nil
        }
        return out
    }
}
