import Digest
import Foundation
import ModelFormats
import QuantStore

/// Model files, stored once per content hash: `blobs/sha256/ab/<hash>`. A file is written under
/// `tmp/`, fsynced, renamed into place and its directory fsynced before any row points at it.
public struct BlobStore: Sendable {
    public let data: DataDirectory

    public init(data: DataDirectory) { self.data = data }

    public struct Blob: Sendable {
        public let path: String
        public let sha256: String
        public let size: Int64
    }

    /// Moves a finished, fsynced temporary file into its content address (or drops it when that
    /// content is already stored).
    public func adopt(temporary: String, sha256: String, size: Int64) throws -> Blob {
        let directory = (data.blobs as NSString).appendingPathComponent(String(sha256.prefix(2)))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let target = (directory as NSString).appendingPathComponent(sha256)
        if FileManager.default.fileExists(atPath: target) {
            try? FileManager.default.removeItem(atPath: temporary)
        } else {
            try Durability.sync(temporary)
            guard rename(temporary, target) == 0 else { throw ServiceError.io("cannot move the upload into place: \(String(cString: strerror(errno)))") }
            try Durability.sync(directory)
        }
        return Blob(path: target, sha256: sha256, size: size)
    }

    /// Moves a validated checkpoint folder into its content address (the hash of its manifest):
    /// every file and the folder are fsynced first, as for single files.
    public func adoptBundle(directory: String, sha256: String, size: Int64) throws -> Blob {
        let parent = (data.blobs as NSString).appendingPathComponent(String(sha256.prefix(2)))
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let target = (parent as NSString).appendingPathComponent(sha256)
        if FileManager.default.fileExists(atPath: target) {
            try? FileManager.default.removeItem(atPath: directory)
        } else {
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
                try Durability.sync((directory as NSString).appendingPathComponent(file))
            }
            try Durability.sync(directory)
            guard rename(directory, target) == 0 else { throw ServiceError.io("cannot move the bundle into place: \(String(cString: strerror(errno)))") }
            try Durability.sync(parent)
        }
        return Blob(path: target, sha256: sha256, size: size)
    }

    /// Copies a local file into the store (for tools and tests; uploads stream through `adopt`).
    public func importFile(_ path: String) throws -> Blob {
        let temporary = (data.tmp as NSString).appendingPathComponent("import-\(UUID().uuidString)")
        guard let input = FileHandle(forReadingAtPath: path) else { throw ServiceError.io("cannot read \(path)") }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let output = FileHandle(forWritingAtPath: temporary) else {
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
        return try adopt(temporary: temporary, sha256: SHA256.hex(hasher.finalize()), size: size)
    }

    /// Imports a model file for a tenant: validated, stored, recorded.
    public func addModel(_ path: String, name: String, scope: TenantScope) throws -> ModelRecord {
        let model = try ModelFile.open(path: path)
        let blob = try importFile(path)
        return try scope.addModel(.init(
            name: name, format: model.format.rawValue, size: blob.size, sha256: blob.sha256, tensorCount: model.tensors.count,
            parameterCount: Int64(model.tensors.reduce(0) { $0 + $1.elementCount }), blobPath: blob.path))
    }
}
