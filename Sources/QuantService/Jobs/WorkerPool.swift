import Dispatch
import Foundation
import QuantStore
import Synchronization

/// N workers on Dispatch that claim jobs from the store and run them, plus a maintenance timer that
/// re-queues jobs whose lease expired and deletes expired artifacts.
public final class WorkerPool: Sendable {
    public let store: Store
    public let data: DataDirectory
    public let settings: WorkerSettings
    public let counters: ServiceCounters
    public let workerCount: Int
    let poll: Double
    /// This replica's id (host/pid/random): worker names, lease owners and /metrics carry it.
    public let identity: String

    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let wakeups = DispatchSemaphore(value: 0)
    private let group = DispatchGroup()
    /// Created once, resumed by `start`, cancelled by `stop`; DispatchSource is thread-safe.
    nonisolated(unsafe) private let maintenance = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))

    public init(
        store: Store, data: DataDirectory, workers: Int, settings: WorkerSettings = WorkerSettings(),
        counters: ServiceCounters = ServiceCounters(), poll: Double = 0.5, replicaID: String? = nil
    ) {
        self.store = store
        self.data = data
        self.settings = settings
        self.counters = counters
        workerCount = Swift.max(1, workers)
        self.poll = poll
        identity =
            replicaID
            ?? "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8))"
    }

    /// Recovers from a crash, removes orphan files, then starts the workers. Alone on SQLite this is
    /// the only node, so every running job was abandoned and every unnamed file is garbage. On a
    /// shared database other replicas are alive: only expired leases are re-queued, and only files
    /// untouched for `settings.orphanGraceSeconds` are removed.
    public func start(recover: Bool = true) throws {
        if recover {
            try store.requeueAbandoned(all: !store.isShared)
            data.removeOrphans(
                referenced: try store.referencedFiles(), olderThan: store.isShared ? settings.orphanGraceSeconds : nil)
        }
        // Jobs queued through another replica wake this one's idle workers at once.
        store.onJobQueued { [weak self] in self?.wake() }
        for index in 0..<workerCount {
            let name = "\(identity)#\(index)"
            group.enter()
            DispatchQueue(label: "quantd.worker.\(index)", qos: .utility).async { [self] in
                defer { group.leave() }
                loop(worker: name)
            }
        }
        started.store(true, ordering: .relaxed)
        maintenance.schedule(deadline: .now() + 1, repeating: 1)
        maintenance.setEventHandler { [self] in maintain() }
        maintenance.resume()
    }

    deinit {
        maintenance.cancel()
        // libdispatch traps on releasing a source that was never resumed.
        if !started.load(ordering: .relaxed) { maintenance.resume() }
    }

    /// Tells an idle worker to look for work now (after a submit).
    public func wake() { wakeups.signal() }

    /// Stops claiming; waits up to `deadline` seconds for running jobs. Returns false if some were
    /// still running (they are re-queued at the next start, or when their lease expires).
    @discardableResult
    public func stop(deadline: Double) -> Bool {
        stopping.store(true, ordering: .relaxed)
        maintenance.cancel()
        for _ in 0..<workerCount { wakeups.signal() }
        return group.wait(timeout: .now() + deadline) == .success
    }

    /// Runs until no job is queued or running (for tools and tests), then stops.
    public func drain(timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let counts = (try? store.jobCounts()) ?? [:]
            if (counts[.queued] ?? 0) == 0 && (counts[.running] ?? 0) == 0 { return stop(deadline: 5) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    private func loop(worker: String) {
        let runner = JobRunner(store: store, data: data, worker: worker, settings: settings, counters: counters)
        while !stopping.load(ordering: .relaxed) {
            let claim: Claim?
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                claim = try store.claim(worker: worker, leaseSeconds: settings.leaseSeconds)
            } catch {
                // The database refused (busy beyond its timeout, disk trouble): retried after the poll interval.
                counters.unexpected("worker")
                settings.onError?("claiming a job", error)
                claim = nil
            }
            if claim != nil { settings.onClaim?(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9) }
            if let claim {
                runner.run(claim)
            } else {
                _ = wakeups.wait(timeout: .now() + poll)
            }
        }
    }

    private func maintain() {
        _ = try? store.requeueAbandoned()
        if let expired = try? store.expireArtifacts() {
            for path in expired { ArtifactStore(data: data).remove(path) }
        }
    }
}
