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
        let cutoff = age.map { Date().addingTimeInterval(-$0) }
        func isOld(_ path: String) -> Bool {
            guard let cutoff else { return true }
            let modified = (try? manager.attributesOfItem(atPath: path)[.modificationDate]) as? Date
            return modified.map { $0 < cutoff } ?? false
        }
        for file in (try? manager.contentsOfDirectory(atPath: tmp)) ?? [] {
            let full = (tmp as NSString).appendingPathComponent(file)
            if isOld(full), (try? manager.removeItem(atPath: full)) != nil { removed.append(full) }
        }
        for base in [artifacts, blobs] {
            guard let walker = manager.enumerator(atPath: base) else { continue }
            while let relative = walker.nextObject() as? String {
                let full = (base as NSString).appendingPathComponent(relative)
                var isDirectory: ObjCBool = false
                guard manager.fileExists(atPath: full, isDirectory: &isDirectory) else { continue }
                if isDirectory.boolValue {
                    // A checkpoint bundle (blobs/sha256/ab/<hash>/): kept or removed whole.
                    guard base == blobs, relative.split(separator: "/").count == 2 else { continue }
                    walker.skipDescendants()
                    if !referenced.contains(full), isOld(full), (try? manager.removeItem(atPath: full)) != nil { removed.append(full) }
                    continue
                }
                if !referenced.contains(full), isOld(full), (try? manager.removeItem(atPath: full)) != nil { removed.append(full) }
            }
        }
        return removed
    }
}
