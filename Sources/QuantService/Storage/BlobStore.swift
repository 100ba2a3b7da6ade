import Digest
import Foundation
import ModelFormats
import QuantStore

/// Model files, stored once per content hash: `blobs/sha256/ab/<hash>`. A file is written under
/// `tmp/`, fsynced, renamed into place and its directory fsynced before any row points at it.
public struct BlobStore: Sendable {
    public let data: DataDirectory

    public init(data: DataDirectory) { self.data = data }

    /// A validated upload still in `tmp/`, to be placed at its content address by the store
    /// transaction that records its row (`TenantScope.addModel(_:placeBlob:)`). That transaction
    /// holds the lock that blob deletions take, so a replica deleting the last other row naming the
    /// same content cannot remove the file between the check that it exists and the new row.
    public func pending(temporary: String, sha256: String, size: Int64, keepAlive: AnyObject? = nil) -> PendingBlob {
        PendingBlob(source: temporary, blobs: data.blobs, sha256: sha256, size: size, keepAlive: keepAlive, onPlaced: nil)
    }

    /// The same for a checkpoint folder named by the hash of its manifest.
    func pendingBundle(_ staging: BundleStaging, sha256: String) -> PendingBlob {
        PendingBlob(
            source: staging.directory, blobs: data.blobs, sha256: sha256, size: staging.total, keepAlive: staging,
            onPlaced: staging.markAdopted)
    }

    /// Removes a blob file or checkpoint folder; called by the store under the blob's lock once no
    /// row names it.
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Copies a local file under `tmp/`, hashing it, ready to be placed.
    func copyToTemporary(_ path: String) throws -> PendingBlob {
        let temporary = (data.tmp as NSString).appendingPathComponent("import-\(UUID().uuidString)")
        guard let input = FileHandle(forReadingAtPath: path) else { throw ServiceError.io("cannot read \(path)") }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
            let output = FileHandle(forWritingAtPath: temporary)
        else {
            throw ServiceError.io("cannot create \(temporary)")
        }
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            while true {
                let chunk = input.readData(ofLength: 1 << 20)
                if chunk.isEmpty { break }
                chunk.withUnsafeBytes { hasher.update($0) }
                size += Int64(chunk.count)
                try output.write(contentsOf: chunk)
            }
            try output.close()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw ServiceError.io("copying \(path) failed: \(error)")
        }
        return pending(temporary: temporary, sha256: SHA256.hex(hasher.finalize()), size: size)
    }

    /// Imports a model file for a tenant: validated, stored, recorded.
    public func addModel(_ path: String, name: String, scope: TenantScope) throws -> ModelRecord {
        let model = try ModelFile.open(path: path)
        let blob = try copyToTemporary(path)
        defer { blob.discard() }
        return try scope.addModel(
            .init(
                name: name, format: model.format.rawValue, size: blob.size, sha256: blob.sha256, tensorCount: model.tensors.count,
                parameterCount: Int64(model.tensors.reduce(0) { $0 + $1.elementCount }), blobPath: blob.path),
            placeBlob: blob.place)
    }
}

/// A file or folder in `tmp/` on its way to its content address `path`. `place()` moves it there
/// (or drops it when that content is already stored); `discard()` removes it if it was never placed.
public final class PendingBlob: @unchecked Sendable {
    public let path: String
    public let sha256: String
    public let size: Int64
    let source: String
    /// The staging folder that owns `source`, kept until the file is placed or dropped.
    let keepAlive: AnyObject?
    let onPlaced: (() -> Void)?
    private var settled = false
    private let lock = NSLock()

    init(source: String, blobs: String, sha256: String, size: Int64, keepAlive: AnyObject?, onPlaced: (() -> Void)?) {
        self.source = source
        self.sha256 = sha256
        self.size = size
        self.keepAlive = keepAlive
        self.onPlaced = onPlaced
        path = ((blobs as NSString).appendingPathComponent(String(sha256.prefix(2))) as NSString).appendingPathComponent(sha256)
    }

    /// Every file and folder is fsynced before the rename, and the parent after it, so a row never
    /// names a blob that a crash could lose.
    public func place() throws {
        try lock.withLock {
            guard !settled else { return }
            let parent = (path as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: path) {
                try? FileManager.default.removeItem(atPath: source)
            } else {
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: source, isDirectory: &isFolder), isFolder.boolValue {
                    for file in try FileManager.default.contentsOfDirectory(atPath: source) {
                        try Durability.sync((source as NSString).appendingPathComponent(file))
                    }
                }
                try Durability.sync(source)
                guard rename(source, path) == 0 else {
                    throw ServiceError.io("cannot move the upload into place: \(String(cString: strerror(errno)))")
                }
                try Durability.sync(parent)
            }
            settled = true
            onPlaced?()
        }
    }

    public func discard() {
        lock.withLock {
            guard !settled else { return }
            try? FileManager.default.removeItem(atPath: source)
            settled = true
        }
    }
}
