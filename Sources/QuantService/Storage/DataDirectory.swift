import Digest
import Foundation
import QuantStore

typealias QuantStoreSHA256 = Digest.SHA256

/// The on-disk layout under the data directory:
///
///     quant.db             SQLite (WAL: quant.db-wal, quant.db-shm)
///     blobs/sha256/ab/abcd...   model files and checkpoint folders, content-addressed and shared
///     artifacts/job_.../         one artifact per successful job attempt
///     tmp/                 uploads in progress
public struct DataDirectory: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var databasePath: String { path("quant.db") }
    public var blobs: String { path("blobs/sha256") }
    public var artifacts: String { path("artifacts") }
    public var tmp: String { path("tmp") }

    func path(_ relative: String) -> String { (root as NSString).appendingPathComponent(relative) }

    public func prepare() throws {
        for directory in [root, blobs, artifacts, tmp] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    /// The store: the SQLite file in this directory, or the PostgreSQL database `database` names
    /// (`postgres://...`), which several replicas sharing this directory use together.
    public func openStore(database: String? = nil) throws -> Store {
        try prepare()
        return try Store.open(database: database, sqlitePath: databasePath)
    }

    /// After a crash: removes partial files, and artifacts and blobs no row refers to. Returns what
    /// it removed. On a directory that other replicas share, pass `olderThan`: a file younger than
    /// that may be another replica's upload or artifact that its row does not name yet (the row is
    /// written after the file's rename), so only files untouched for that long are garbage.
    @discardableResult
    public func removeOrphans(referenced: Set<String>, olderThan age: Double? = nil) -> [String] {
        var removed: [String] = []
        let manager = FileManager.default
        for file in (try? manager.contentsOfDirectory(atPath: tmp)) ?? [] {
            let full = (tmp as NSString).appendingPathComponent(file)
            if Self.isOlder(full, than: age), (try? manager.removeItem(atPath: full)) != nil { removed.append(full) }
        }
        removed += ArtifactStore(data: self).removeUnreferenced(referenced, olderThan: age)
        guard let walker = manager.enumerator(atPath: blobs) else { return removed }
        while let relative = walker.nextObject() as? String {
            let full = (blobs as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: full, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                // A checkpoint bundle (blobs/sha256/ab/<hash>/): kept or removed whole.
                guard relative.split(separator: "/").count == 2 else { continue }
                walker.skipDescendants()
            }
            if !referenced.contains(full), Self.isOlder(full, than: age), (try? manager.removeItem(atPath: full)) != nil {
                removed.append(full)
            }
        }
        return removed
    }

    /// True when `path` was last modified more than `age` seconds ago (always, with no age).
    static func isOlder(_ path: String, than age: Double?) -> Bool {
        guard let age else { return true }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
        return modified.map { $0 < Date().addingTimeInterval(-age) } ?? false
    }
}
