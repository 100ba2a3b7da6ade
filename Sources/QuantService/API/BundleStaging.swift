import Digest
import Foundation
import HTTPServer
import ModelFormats

/// The files of one upload, written one after another under `tmp/` as they stream in, each hashed
/// on the way. They are staged under neutral names; only a bundle's files are renamed to their own
/// names, after those pass CheckpointRules, so a hostile name never reaches the file system. The
/// folder is removed unless the caller adopts it.
final class BundleStaging {
    struct File {
        /// The name the client gave (a multipart filename, a tar member), if any.
        var name: String?
        /// Where it is staged, relative to the folder.
        var stagedName: String
        let sha256: String
        let size: Int64
    }

    let directory: String
    let maxBytes: Int64
    private(set) var files: [File] = []
    private(set) var total: Int64 = 0
    private var handle: FileHandle?
    private var name: String?
    private var stagedName = ""
    private var hasher = SHA256()
    private var size: Int64 = 0
    private var adopted = false

    init(tmp: String, maxBytes: Int64) throws {
        directory = (tmp as NSString).appendingPathComponent("bundle-\(UUID().uuidString)")
        self.maxBytes = maxBytes
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false) } catch {
            throw HTTPError(503, "cannot write under the data directory", type: "storage-unavailable")
        }
    }

    deinit {
        try? handle?.close()
        if !adopted { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Starts the next file. `given` is the part's filename or tar member name.
    func begin(_ given: String?) throws {
        try end()
        guard files.count < CheckpointRules.maxFiles else {
            throw HTTPError(422, "a model bundle holds at most \(CheckpointRules.maxFiles) files", type: "invalid-model")
        }
        stagedName = "part-\(files.count)"
        let path = (directory as NSString).appendingPathComponent(stagedName)
        guard FileManager.default.createFile(atPath: path, contents: nil), let opened = FileHandle(forWritingAtPath: path) else {
            throw HTTPError(503, "cannot write under the data directory", type: "storage-unavailable")
        }
        handle = opened
        name = given
        hasher = SHA256()
        size = 0
    }

    /// Gives a bundle's files their own names, each checked first: plain, present and unique.
    func nameFiles() throws {
        try end()
        var seen = Set<String>()
        for index in files.indices {
            guard let given = files[index].name, !given.isEmpty else {
                throw HTTPError(
                    422, "every file of a model bundle needs its file name (multipart: -F file=@config.json sends one)",
                    type: "invalid-model")
            }
            do { try CheckpointRules.checkFileName(given) } catch let error as FormatError {
                throw HTTPError(
                    422, "\(error.message); send the checkpoint's files by their plain names (tar: tar -cf - -C DIR .)",
                    type: "invalid-model", extensions: [("file", given)])
            }
            guard seen.insert(given).inserted else {
                throw HTTPError(
                    422, "file '\(given)' appears twice in the bundle", type: "invalid-model", extensions: [("file", given)])
            }
        }
        for index in files.indices {
            let from = (directory as NSString).appendingPathComponent(files[index].stagedName)
            guard rename(from, (directory as NSString).appendingPathComponent(files[index].name!)) == 0 else {
                throw HTTPError(503, "cannot write under the data directory", type: "storage-unavailable")
            }
            files[index].stagedName = files[index].name!
        }
    }

    func write(_ bytes: [UInt8]) throws {
        guard let handle else { throw HTTPError(400, "file data before any file began", type: "malformed-multipart") }
        size += Int64(bytes.count)
        total += Int64(bytes.count)
        if total > maxBytes { throw HTTPError(413, "the model is larger than the upload limit of \(maxBytes) bytes") }
        if name == CheckpointRules.indexName, size > CheckpointRules.maxIndexBytes {
            throw HTTPError(
                422, "\(CheckpointRules.indexName) is larger than \(CheckpointRules.maxIndexBytes) bytes", type: "invalid-model",
                extensions: [("file", CheckpointRules.indexName)])
        }
        bytes.withUnsafeBytes { hasher.update($0) }
        do { try handle.write(contentsOf: bytes) } catch {
            throw HTTPError(507, "the server ran out of space storing the upload", type: "insufficient-storage")
        }
    }

    /// Closes the current file, if any.
    func end() throws {
        guard let handle else { return }
        try handle.close()
        files.append(File(name: name, stagedName: stagedName, sha256: SHA256.hex(hasher.finalize()), size: size))
        self.handle = nil
        name = nil
    }

    func path(of file: File) -> String { (directory as NSString).appendingPathComponent(file.stagedName) }

    /// The bundle's content address: SHA-256 of its manifest (each file's hash and name, sorted).
    var manifestSHA256: String {
        var hasher = SHA256()
        for file in files.sorted(by: { $0.stagedName < $1.stagedName }) {
            Array("\(file.sha256)  \(file.stagedName)\n".utf8).withUnsafeBytes { hasher.update($0) }
        }
        return SHA256.hex(hasher.finalize())
    }

    /// The caller took the folder (moved it into the blob store).
    func markAdopted() { adopted = true }
}
