import Foundation
import QuantService
import QuantStore
import Testing

/// The built `quantd` next to this test bundle (make test builds everything first).
func quantdPath() throws -> String {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let path = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("quantd").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw ServiceTestError("quantd not built at \(path); run swift build first")
    }
    return path
}

struct ServiceTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try quantdPath())
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

@Suite("Crash recovery with real processes", .serialized)
struct CrashTests {
    /// A worker process is killed with SIGKILL mid-job; a new process on the same data directory
    /// finishes the job exactly once, with no partial artifact and no orphan left behind.
    @Test func sigkillMidJobThenRestart() throws {
        let f = try ServiceFixture()
        let model = try f.model(tensors: 30, rows: 64, cols: 128)
        let job = try f.submit(model)
        let first = try launch(
            ["worker", "--data-dir", f.root.path, "--workers", "1", "--lease-seconds", "2"],
            environment: ["QUANTD_TEST_CHUNK_DELAY_MS": "60"])
        let running = try f.wait(for: job.id, timeout: 30) { $0.state == .running && ($0.progressDone ?? 0) > 0 }
        #expect(running.attempt == 1)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        // The killed attempt left its partial file behind and the row still says running.
        #expect(try f.scope.job(job.id).state == .running)
        #expect(f.files.contains { $0.contains(".partial") }, "expected a partial artifact from the killed attempt: \(f.files)")

        let second = try launch(["worker", "--data-dir", f.root.path, "--workers", "1", "--exit-when-idle"])
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)
        let done = try f.scope.job(job.id)
        #expect(done.state == .succeeded && done.attempt == 2)
        let events = try f.scope.events(of: job.id)
        #expect(events.map(\.toState) == [.queued, .running, .queued, .running, .succeeded])
        #expect(events.map(\.attempt) == [0, 1, 1, 2, 2])
        #expect(events[2].reason?.contains("abandoned at start-up") == true)
        // Exactly one artifact, the second attempt's; nothing partial, nothing orphaned.
        let artifacts = f.files.filter { $0.hasPrefix("artifacts/") }
        #expect(artifacts == ["artifacts/\(job.id)/attempt-2.safetensors"], "\(f.files)")
        #expect(!f.files.contains { $0.contains(".partial") || $0.hasPrefix("tmp/") })
    }
}

@Suite("Disk full", .serialized)
struct DiskFullTests {
    /// On a small tmpfs we mount: the space check refuses a job that cannot fit, and a job that runs
    /// out of space mid-write fails cleanly, leaving the database usable and no partial file.
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func smallFilesystem() throws {
        let mount = FileManager.default.temporaryDirectory.appendingPathComponent("qs-tmpfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let mounted = Process()
        mounted.executableURL = URL(fileURLWithPath: "/bin/mount")
        mounted.arguments = ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount.path]
        try mounted.run()
        mounted.waitUntilExit()
        try #require(mounted.terminationStatus == 0, "could not mount a tmpfs")
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = [mount.path]
            try? unmount.run()
            unmount.waitUntilExit()
            try? FileManager.default.removeItem(at: mount)
        }
        let f = try ServiceFixture(root: mount.appendingPathComponent("data"))
        // 1 MiB of F16 weights; an F32 output needs 2 MiB.
        let model = try f.model(tensors: 4, rows: 256, cols: 512, dtype: .f16)

        // 1. The check before start: with 64 MiB of headroom required, the job is refused.
        let refused = try f.submit(model, recipe: #"{"preset": "int8"}"#, maxAttempts: 1)
        var pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings(headroom: 64 << 20))
        try pool.start()
        let first = try f.wait(for: refused.id) { $0.state.isTerminal }
        pool.stop(deadline: 5)
        #expect(first.state == .failed && first.errorCode == "disk_full")

        // 2. A real ENOSPC mid-write: the check passes, then the disk fills while the job writes.
        let filler = mount.appendingPathComponent("filler")
        let job = try f.submit(model, recipe: #"{"weights": {"method": "gguf", "type": "F32"}}"#, maxAttempts: 1)
        pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings(chunkDelay: 0.4, headroom: 0))
        try pool.start(recover: false)
        _ = try f.wait(for: job.id) { $0.state == .running && ($0.progressDone ?? 0) > 0 }
        let free = try #require(FileManager.default.attributesOfFileSystem(forPath: mount.path)[.systemFreeSize] as? Int64)
        try Data(count: Int(free) - 50_000).write(to: filler)
        let failed = try f.wait(for: job.id) { $0.state.isTerminal }
        pool.stop(deadline: 5)
        #expect(
            failed.state == .failed && failed.errorCode == "disk_full", "\(failed.errorCode ?? "") \(failed.errorMessage ?? "")")
        #expect(!f.files.contains { $0.hasPrefix("artifacts/") && $0.contains("attempt") }, "\(f.files)")

        // The database is intact: with space back, the next job succeeds.
        try FileManager.default.removeItem(at: filler)
        let ok = try f.submit(model)
        pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings(headroom: 0))
        try pool.start(recover: false)
        #expect(try f.wait(for: ok.id) { $0.state.isTerminal }.state == .succeeded)
        pool.stop(deadline: 5)
        #expect(try f.scope.jobs().count == 3)

        // 3. The estimate is what the job writes, not the model's size: with less free space than the
        // model but room for its int4 output, the job runs.
        let large = try f.model(tensors: 4, rows: 512, cols: 512, dtype: .f32)
        let free3 = try #require(FileManager.default.attributesOfFileSystem(forPath: mount.path)[.systemFreeSize] as? Int64)
        try Data(count: Int(free3) - Int(large.size) / 2).write(to: filler)
        let fits = try f.submit(large, recipe: #"{"preset": "int4-g128"}"#, maxAttempts: 1)
        pool = WorkerPool(store: f.store, data: f.data, workers: 1, settings: settings(headroom: 0))
        try pool.start(recover: false)
        let done = try f.wait(for: fits.id) { $0.state.isTerminal }
        pool.stop(deadline: 5)
        #expect(done.state == .succeeded, "\(done.errorCode ?? "") \(done.errorMessage ?? "")")
    }
}
