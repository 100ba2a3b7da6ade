import ArgumentParser
import Foundation
import QuantService
import QuantStore

/// `quantd backup --to DIR`: a copy of a data directory that a new quantd can start from, taken
/// while the service runs.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the data directory (database and files) to a new directory while quantd runs.",
        discussion: """
            The database is copied first, with SQLite's online backup API (a consistent snapshot); \
            then the model blobs and artifacts, which never change once written. A file deleted \
            between the two steps (a model deleted, an artifact expired) is missing from the copy; \
            the restored service answers 410 for such an artifact. Restore by starting quantd with \
            --data-dir DIR. With --database postgres://..., the database is saved as DIR/quant.pgdump \
            (pg_dump's custom format): restore it with `pg_restore --dbname URL DIR/quant.pgdump`.
            """
    )

    @OptionGroup var data: DataOptions
    @Option(help: "The new backup directory (must not exist).") var to: String

    func run() throws {
        let source = data.directory
        guard !FileManager.default.fileExists(atPath: to) else {
            throw ValidationError("\(to) already exists; back up to a new directory")
        }
        let target = try DataDirectory(root: to)
        try target.prepare()
        // SQLite: a database file the restored quantd opens as it is. PostgreSQL: a pg_dump archive
        // beside the files, to load with pg_restore into the database the restored replicas name.
        let store = try data.openStore()
        try store.backup(to: store.isShared ? (to as NSString).appendingPathComponent("quant.pgdump") : target.databasePath)
        var copied = 0
        for (from, into) in [(source.blobs, target.blobs), (source.artifacts, target.artifacts)] {
            copied += try Self.copyFiles(from: from, into: into)
        }
        print("backed up \(data.dataDir) to \(to): database and \(copied) files")
    }

    /// Copies every finished file under `from` (partial files are skipped); returns how many.
    static func copyFiles(from: String, into: String) throws -> Int {
        guard let walker = FileManager.default.enumerator(atPath: from) else { return 0 }
        var count = 0
        while let relative = walker.nextObject() as? String {
            let source = (from as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), !isDirectory.boolValue,
                !relative.hasSuffix(".partial")
            else { continue }
            let destination = (into as NSString).appendingPathComponent(relative)
            try FileManager.default.createDirectory(
                atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source, toPath: destination)
            count += 1
        }
        return count
    }
}
