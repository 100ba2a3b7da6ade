import Digest
import Foundation
import HTTPServer
import ModelFormats
import QuantStore

/// Receives a model or dataset upload: streams the body (raw or multipart) to a temporary file while
/// hashing, validates it as safetensors or GGUF, then stores it by content and records it. Nothing is left
/// in `tmp/` after any failure, a dropped connection included.
struct UploadReceiver {
    let data: DataDirectory
    let counters: ServiceCounters

    /// A validated upload, ready to be placed by content under blobs/ by the transaction that
    /// records it (the caller discards it if that fails).
    struct Stored {
        let blob: PendingBlob
        var blobPath: String { blob.path }
        let sha256: String
        let size: Int64
        let format: String
        let tensorCount: Int
        let parameterCount: Int64
    }

    /// A file that is not a model but is accepted as it is (a llama.cpp importance matrix among
    /// datasets): its format name and entry count.
    typealias OtherFile = (format: String, entries: Int)

    func receive(_ request: HTTPRequest, body: RequestBody, name: String, scope: TenantScope, maxBytes: Int64) throws
        -> ModelRecord
    {
        let stored = try storeModel(request, body: body, maxBytes: maxBytes)
        defer { stored.blob.discard() }
        do {
            return try scope.addModel(
                .init(
                    name: name, format: stored.format, size: stored.size, sha256: stored.sha256, tensorCount: stored.tensorCount,
                    parameterCount: stored.parameterCount, blobPath: stored.blobPath),
                placeBlob: stored.blob.place)
        } catch StoreError.quotaExceeded(let message) {
            throw HTTPError(413, message, type: "storage-quota")
        }
    }

    /// A model upload: one file (raw body, or one multipart `file` part), or a Hugging Face
    /// checkpoint bundle (several `file` parts with their filenames, or a tar stream).
    func storeModel(_ request: HTTPRequest, body: RequestBody, maxBytes: Int64) throws -> Stored {
        let contentType = request.header("content-type") ?? "application/octet-stream"
        let isTar = contentType.lowercased().hasPrefix("application/x-tar")
        guard isTar || MultipartFileExtractor(contentType: contentType) != nil else {
            return try store(request, body: body, maxBytes: maxBytes, what: "model")
        }
        let staging = try BundleStaging(tmp: data.tmp, maxBytes: maxBytes)
        if isTar {
            var tar = TarReader()
            do {
                while let chunk = try body.read() {
                    try tar.feed(chunk, begin: { name, _ in try staging.begin(name) }, emit: staging.write)
                }
                try tar.finish()
            } catch let error as FormatError {
                throw HTTPError(422, error.message, type: "invalid-model", extensions: [("rule", error.code.rawValue)])
            }
        } else {
            var multipart = MultipartFileExtractor(contentType: contentType)!
            multipart.severalFiles = true
            while let chunk = try body.read() { try multipart.feed(chunk, begin: staging.begin, emit: staging.write) }
            try multipart.finish()
        }
        try staging.end()
        counters.addBytesIn(staging.total)
        if staging.files.count == 1, !isTar {
            let file = staging.files[0]
            guard file.size > 0 else { throw HTTPError(422, "the upload is empty", type: "invalid-model") }
            let described = try describeModel(staging.path(of: file), what: "model", validate: { _ in })
            let blob = BlobStore(data: data).pending(
                temporary: staging.path(of: file), sha256: file.sha256, size: file.size, keepAlive: staging)
            return Stored(
                blob: blob, sha256: file.sha256, size: file.size, format: described.format, tensorCount: described.tensorCount,
                parameterCount: described.parameterCount)
        }
        return try adoptBundle(staging)
    }

    /// Validates staged files as one checkpoint (CheckpointRules: names, shards and index, config.json)
    /// and readies the folder for the blob store.
    private func adoptBundle(_ staging: BundleStaging) throws -> Stored {
        guard !staging.files.isEmpty else { throw HTTPError(422, "the bundle holds no files", type: "invalid-model") }
        try staging.nameFiles()
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint(directory: staging.directory) } catch let error as FormatError {
            throw HTTPError(
                422, "the model bundle is not a valid checkpoint: \(error.message)", type: "invalid-model",
                extensions: [("rule", error.code.rawValue)] + (error.tensor.map { [("tensor", $0)] } ?? []))
        }
        let tensors = checkpoint.shards.flatMap(\.tensors)
        let sha = staging.manifestSHA256
        return Stored(
            blob: BlobStore(data: data).pendingBundle(staging, sha256: sha), sha256: sha, size: staging.total,
            format: "checkpoint", tensorCount: tensors.count,
            parameterCount: Int64(tensors.reduce(0) { $0 + $1.elementCount }))
    }

    /// Streams the body (raw or multipart) to a temporary file while hashing, opens it as
    /// safetensors or GGUF, runs `validate` on it, and only then readies it for the blob store.
    /// `other` may claim the file first (returning its description) for a kind that is not a model.
    func store(
        _ request: HTTPRequest, body: RequestBody, maxBytes: Int64, what: String, validate: (ModelFile) throws -> Void = { _ in },
        other: (String) throws -> OtherFile? = { _ in nil }
    ) throws -> Stored {
        let temporary = (data.tmp as NSString).appendingPathComponent("upload-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporary)
        else {
            throw HTTPError(503, "cannot write under the data directory", type: "storage-unavailable")
        }
        var committed = false
        defer {
            try? handle.close()
            if !committed { try? FileManager.default.removeItem(atPath: temporary) }
        }
        var hasher = SHA256()
        var size: Int64 = 0
        func write(_ bytes: [UInt8]) throws {
            size += Int64(bytes.count)
            if size > maxBytes { throw HTTPError(413, "the \(what) is larger than the upload limit of \(maxBytes) bytes") }
            bytes.withUnsafeBytes { hasher.update($0) }
            do { try handle.write(contentsOf: bytes) } catch {
                throw HTTPError(507, "the server ran out of space storing the upload", type: "insufficient-storage")
            }
        }
        let contentType = request.header("content-type") ?? "application/octet-stream"
        if var multipart = MultipartFileExtractor(contentType: contentType) {
            while let chunk = try body.read() { try multipart.feed(chunk, emit: write) }
            try multipart.finish()
        } else if contentType.lowercased().hasPrefix("multipart/") {
            throw HTTPError(415, "multipart bodies must be multipart/form-data with a boundary")
        } else {
            while let chunk = try body.read() { try write(chunk) }
        }
        counters.addBytesIn(size)
        // Not fsynced here: `PendingBlob.place` syncs the file once it is known to be worth keeping.
        try handle.close()
        guard size > 0 else { throw HTTPError(422, "the upload is empty", type: "invalid-\(what)") }
        let described =
            try other(temporary).map { (format: $0.format, tensorCount: $0.entries, parameterCount: Int64(0)) }
            ?? describeModel(temporary, what: what, validate: validate)
        let sha = SHA256.hex(hasher.finalize())
        let blob = BlobStore(data: data).pending(temporary: temporary, sha256: sha, size: size)
        committed = true
        return Stored(
            blob: blob, sha256: sha, size: size, format: described.format, tensorCount: described.tensorCount,
            parameterCount: described.parameterCount)
    }

    /// Opens a received file as safetensors or GGUF (a 415 when it is neither, a 422 when it is
    /// malformed), runs `validate` on it, and describes it.
    private func describeModel(_ path: String, what: String, validate: (ModelFile) throws -> Void) throws -> (
        format: String, tensorCount: Int, parameterCount: Int64
    ) {
        let file: ModelFile
        do {
            file = try ModelFile.open(path: path)
        } catch let error as FormatError {
            if Self.unknownFormat(path) {
                throw HTTPError(
                    415,
                    "the file is neither safetensors nor GGUF (GGUF starts with 'GGUF'; safetensors with an 8-byte header length and a JSON header)",
                    type: "unsupported-format")
            }
            throw HTTPError(422, "the \(what) file is malformed: \(error)", type: "invalid-\(what)")
        }
        try validate(file)
        return (file.format.rawValue, file.tensors.count, Int64(file.tensors.reduce(0) { $0 + $1.elementCount }))
    }

    /// True when the bytes do not even look like either format (a 415, not a 422).
    static func unknownFormat(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return true }
        defer { try? handle.close() }
        let head = [UInt8](handle.readData(ofLength: 9))
        if head.count >= 4 && Array(head[0..<4]) == Array("GGUF".utf8) { return false }
        guard head.count == 9 else { return true }
        return head[8] != UInt8(ascii: "{")
    }
}
