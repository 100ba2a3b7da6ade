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

    public func openStore() throws -> Store {
        try prepare()
        return try Store(path: databasePath)
    }

    /// After a crash: removes partial files, and artifacts and blobs no row refers to. Returns what
    /// it removed.
    @discardableResult
    public func removeOrphans(referenced: Set<String>) -> [String] {
        var removed: [String] = []
        let manager = FileManager.default
        for file in (try? manager.contentsOfDirectory(atPath: tmp)) ?? [] {
            let full = (tmp as NSString).appendingPathComponent(file)
            if (try? manager.removeItem(atPath: full)) != nil { removed.append(full) }
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
                    if !referenced.contains(full), (try? manager.removeItem(atPath: full)) != nil { removed.append(full) }
                    continue
                }
                if !referenced.contains(full), (try? manager.removeItem(atPath: full)) != nil { removed.append(full) }
            }
        }
        return removed
    }
}
