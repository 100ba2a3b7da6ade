import Foundation
import HTTPServer
import QuantStore

/// The one owner of job artifacts, `artifacts/<job id>/attempt-<n>.<ext>`: it gives an attempt the
/// place to write, publishes what was written, serves it, and deletes it (a stale attempt's file,
/// a deleted job's, an expired one, an orphan after a crash). Nothing else builds their paths or
/// removes them.
public struct ArtifactStore: Sendable {
    public let data: DataDirectory

    public init(data: DataDirectory) { self.data = data }

    /// Where one attempt writes: `path` is the artifact; a checkpoint is first written as a folder
    /// at `folder` and packed into `path`.
    public struct Slot: Sendable {
        public let path: String
        public var folder: String { path + ".folder" }
        var directory: String { (path as NSString).deletingLastPathComponent }
    }

    /// Free bytes on the artifacts' file system (nil when unknown).
    public var freeBytes: Int64? { Durability.freeBytes(data.artifacts) }
    public var root: String { data.artifacts }

    /// Creates the job's folder and names the attempt's artifact.
    public func slot(job: String, attempt: Int, fileExtension: String) throws -> Slot {
        let directory = (data.artifacts as NSString).appendingPathComponent(job)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return Slot(path: (directory as NSString).appendingPathComponent("attempt-\(attempt).\(fileExtension)"))
    }

    /// A checkpoint written as a folder becomes one tar at the artifact's path (the folder goes).
    public func pack(_ slot: Slot) throws -> (sha256: String, size: Int64) {
        let packed = try FolderArchive.pack(folder: slot.folder, to: slot.path)
        try? FileManager.default.removeItem(atPath: slot.folder)
        return packed
    }

    /// The writer fsynced the file and renamed it into place; the rename is durable once its folder
    /// is synced, and only then may a row name the artifact.
    public func publish(_ slot: Slot) throws {
        try Durability.sync(slot.directory)
    }

    /// Removes whatever an attempt that did not finish left behind.
    public func discard(_ slot: Slot) {
        try? FileManager.default.removeItem(atPath: slot.folder)
        try? FileManager.default.removeItem(atPath: slot.path)
    }

    /// Removes an artifact a row named (a stale attempt's, an expired one's), and its job's folder
    /// once nothing else is in it.
    public func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
        let directory = (path as NSString).deletingLastPathComponent
        if (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Removes everything a deleted job left: its artifact and any attempt's leftovers.
    public func removeJob(_ id: String) {
        guard !id.isEmpty, !id.contains("/"), id != ".." else { return }
        try? FileManager.default.removeItem(atPath: (data.artifacts as NSString).appendingPathComponent(id))
    }

    /// The artifact as a download (ranges and ETag from its hash), or 410 once it expired.
    func response(for job: JobRecord, request: HTTPRequest) throws -> HTTPResponse {
        guard let path = job.artifactPath else {
            throw HTTPError(410, "the artifact of job \(job.id) expired and was deleted", type: "artifact-expired")
        }
        let name = "\(job.name ?? job.id).\((path as NSString).pathExtension)"
        var response = try FileResponse.make(path: path, request: request, etag: job.artifactSha256, downloadName: name)
        response.headers.append(("Cache-Control", "private, max-age=0"))
        return response
    }

    /// After a crash: artifact files no row names (of attempts that never committed), untouched for
    /// `age` seconds when other replicas may be writing theirs.
    func removeUnreferenced(_ referenced: Set<String>, olderThan age: Double?) -> [String] {
        var removed: [String] = []
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: data.artifacts) else { return [] }
        while let relative = walker.nextObject() as? String {
            let full = (data.artifacts as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if !referenced.contains(full), DataDirectory.isOlder(full, than: age) {
                remove(full)
                removed.append(full)
            }
        }
        return removed
    }
}
