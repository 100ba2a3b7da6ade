import Dispatch
import Foundation
import ModelFormats
import QuantService
import QuantStore
import Synchronization

/// The queue under load: `submitters` threads submit and poll `jobs` jobs on a small model while
/// `workers` workers run them, on a real SQLite file or a real PostgreSQL database. On PostgreSQL,
/// `replicas` stores, each with its own connections, LISTEN and worker pool, share the database as
/// separate quantd replicas would (in one process). Used by `quant-bench queue` and the tests.
public struct QueueLoad {
    public var jobs = 2000
    public var submitters = 8
    public var workers = 2
    public var directory: String
    /// A `postgres://` URL (an empty database), or nil for SQLite in `directory`.
    public var database: String? = nil
    public var replicas = 1
    /// How long each submitter polls a finished job after the load, to measure poll reads/s.
    public var pollSeconds = 2.0
    /// Jobs submitted one at a time after the load, to measure submit-to-start on an idle queue.
    public var idleJobs = 100

    public init(directory: String) { self.directory = directory }

    public struct Result: Sendable {
        public var jobs: Int
        public var seconds: Double
        public var succeeded: Int
        public var distinct: Int
        public var submitErrors: [String]
        public var claimP50: Double
        public var claimP99: Double
        /// Submit until a worker started the job, from the rows' timestamps.
        public var startP50: Double
        public var startP99: Double
        /// The same, one job at a time on an idle queue: the wake-up path without queueing.
        public var idleStartP50: Double
        public var idleStartP99: Double
        public var maxAttempt: Int
        /// `Store.poll` (a job poll's database read: key and row) per second, all submitters at once.
        public var pollsPerSecond: Double
        public var jobsPerSecond: Double { Double(jobs) / seconds }
    }

    public func run() throws -> Result {
        let data = DataDirectory(root: directory)
        let stores = try (0..<Swift.max(1, replicas)).map { _ in try data.openStore(database: database) }
        let store = stores[0]
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
        let pools = stores.enumerated().map { index, replica in
            WorkerPool(
                store: replica, data: data, workers: workers, settings: settings, poll: 0.01, replicaID: "replica-\(index)")
        }
        for pool in pools { try pool.start() }
        let ids = Mutex<[String]>([])
        let errors = Mutex<[String]>([])
        let perThread = jobs / submitters
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: submitters) { index in
            // Submitters spread over the replicas, as a load balancer would.
            let scope = stores[index % stores.count].scope(tenants[index].id)
            let pool = pools[index % pools.count]
            var mine: [String] = []
            for n in 0..<perThread {
                do {
                    let job = try scope.submit(
                        .init(
                            modelID: models[index].id, recipe: #"{"preset": "int8"}"#, idempotencyKey: "k\(n)", requestHash: "h"))
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
        let idle = try idleStarts(data: data, stores: stores, pools: pools, modelPath: modelPath)
        for pool in pools { pool.stop(deadline: 10) }
        let all = ids.withLock { $0 }
        var succeeded = 0
        var maxAttempt = 0
        var waits: [Double] = []
        var finished: [(tenant: String, job: String)] = []
        for tenant in tenants {
            for job in try store.scope(tenant.id).jobs(limit: 500)
                + (perThread > 500 ? try pagesAfterFirst(store.scope(tenant.id)) : [])
            {
                if job.state == .succeeded { succeeded += 1 }
                maxAttempt = Swift.max(maxAttempt, job.attempt)
                if let started = job.startedAt { waits.append(started - job.createdAt) }
                if job.state == .succeeded, !finished.contains(where: { $0.tenant == tenant.id }) {
                    finished.append((tenant.id, job.id))
                }
            }
        }
        let polls = try pollRate(stores: stores, finished: finished)
        return Result(
            jobs: all.count, seconds: seconds, succeeded: succeeded, distinct: Set(all).count,
            submitErrors: errors.withLock { $0 },
            claimP50: Self.percentile(claims.withLock { $0 }, 50), claimP99: Self.percentile(claims.withLock { $0 }, 99),
            startP50: Self.percentile(waits, 50), startP99: Self.percentile(waits, 99),
            idleStartP50: Self.percentile(idle, 50), idleStartP99: Self.percentile(idle, 99), maxAttempt: maxAttempt,
            pollsPerSecond: polls)
    }

    /// Submit until a worker starts the job on an idle queue, one job at a time (`idleJobs` of
    /// them): the wake-up path alone. On PostgreSQL the jobs are submitted through a store with no
    /// workers of its own, as through another replica, so the workers hear of them by NOTIFY; on
    /// SQLite the submitter wakes the workers in-process, as the server does.
    func idleStarts(data: DataDirectory, stores: [Store], pools: [WorkerPool], modelPath: String) throws -> [Double] {
        guard idleJobs > 0 else { return [] }
        let submitter = database == nil ? stores[0] : try data.openStore(database: database)
        let tenant = try submitter.createTenant(name: "idle", maxQueuedJobs: idleJobs)
        let scope = submitter.scope(tenant.id)
        let model = try BlobStore(data: data).addModel(modelPath, name: "small", scope: scope)
        var waits: [Double] = []
        for _ in 0..<idleJobs {
            let id = try scope.submit(
                .init(modelID: model.id, recipe: #"{"preset": "int8"}"#, idempotencyKey: nil, requestHash: "h")
            ).job.id
            if database == nil { pools[0].wake() }
            var job = try scope.job(id)
            while !job.state.isTerminal {
                Thread.sleep(forTimeInterval: 0.0005)
                job = try scope.job(id)
            }
            if let started = job.startedAt { waits.append(started - job.createdAt) }
        }
        return waits
    }

    /// Every submitter polls one finished job of its tenant with its tenant's key for
    /// `pollSeconds`, through the replica it submitted to: the database half of `GET /v1/jobs/{id}`.
    func pollRate(stores: [Store], finished: [(tenant: String, job: String)]) throws -> Double {
        guard !finished.isEmpty, pollSeconds > 0 else { return 0 }
        let keys = try finished.map { try stores[0].createKey(tenantID: $0.tenant).plaintext }
        let count = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(pollSeconds * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: submitters) { index in
            let store = stores[index % stores.count]
            let target = finished[index % finished.count]
            let key = keys[index % keys.count]
            var done = 0
            while DispatchTime.now().uptimeNanoseconds < deadline {
                // A poll that does not find the job would make the rate meaningless.
                guard case .job = try? store.poll(job: target.job, key: key) else {
                    failed.add(1, ordering: .relaxed)
                    return
                }
                done += 1
            }
            count.add(done, ordering: .relaxed)
        }
        guard failed.load(ordering: .relaxed) == 0 else {
            throw QueueLoadError(message: "a poll of a finished job did not find it")
        }
        return Double(count.load(ordering: .relaxed)) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
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

struct QueueLoadError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
