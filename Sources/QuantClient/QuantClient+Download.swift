import Digest
import Foundation
import ModelFormats
import QuantAPI

extension QuantClient {
    /// Downloads a succeeded job's artifact to `path`, streamed to disk. Bytes arrive in
    /// `path.partial`; an interrupted download resumes from there with `Range`, retrying network
    /// errors. The finished file must hash to the server's ETag (its sha256) before it is renamed
    /// to `path`; a mismatch deletes the partial file and throws `.integrity`.
    @discardableResult
    public func downloadArtifact(ofJob id: String, to path: String, progress: (@Sendable (TransferProgress) -> Void)? = nil)
        throws -> Job.Artifact
    {
        let job = try job(id)
        guard job.status == "succeeded", let artifact = job.artifact else {
            throw ClientError.usage("job \(id) is \(job.status); only a succeeded job has an artifact")
        }
        let partial = path + ".partial"
        var attempt = 1
        while true {
            do {
                try fetch(id: id, into: partial, expectedSize: artifact.size, progress: progress)
                break
            } catch let error as ClientError {
                // Keep what arrived and resume, for as long as the retry policy allows.
                guard case .network(let code, _) = error, [7, 18, 28, 52, 55, 56].contains(code),
                    attempt < options.retry.maxAttempts
                else { throw error }
                Thread.sleep(forTimeInterval: options.retry.delay(after: attempt, retryAfter: nil))
                attempt += 1
            }
        }
        let digest = try Self.sha256(ofFile: partial)
        guard digest == artifact.sha256 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw ClientError.integrity(
                "\(path): sha256 \(digest) but the server's ETag says \(artifact.sha256); the partial file was removed, download again"
            )
        }
        if artifact.archive == "tar" {
            defer { try? FileManager.default.removeItem(atPath: partial) }
            try Self.unpackFolder(partial, to: path)
            return artifact
        }
        guard rename(partial, path) == 0 else {
            throw ClientError.file("cannot move \(partial) to \(path): \(String(cString: strerror(errno)))")
        }
        return artifact
    }

    /// Unpacks a folder artifact into the new folder `path`, checking every file against the
    /// archive's SHA256SUMS; nothing is left at `path` unless all match.
    static func unpackFolder(_ archive: String, to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw ClientError.file("\(path) exists; the artifact is a folder: give a new path")
        }
        let staging = path + ".unpacking"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        var done = false
        defer { if !done { try? FileManager.default.removeItem(atPath: staging) } }
        guard let input = FileHandle(forReadingAtPath: archive) else { throw ClientError.file("cannot read \(archive)") }
        defer { try? input.close() }
        var reader = TarReader()
        var output: FileHandle?
        var hasher = SHA256()
        var name = ""
        var digests: [String: String] = [:]
        var sums: [UInt8] = []
        func close() {
            guard let file = output else { return }
            try? file.close()
            digests[name] = SHA256.hex(hasher.finalize())
            output = nil
        }
        do {
            while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty {
                try reader.feed(
                    [UInt8](chunk),
                    begin: { member, _ in
                        close()
                        try CheckpointRules.checkFileName(member)
                        name = member
                        hasher = SHA256()
                        if member == "SHA256SUMS" { return }
                        let target = (staging as NSString).appendingPathComponent(member)
                        guard FileManager.default.createFile(atPath: target, contents: nil),
                            let file = FileHandle(forWritingAtPath: target)
                        else {
                            throw ClientError.file("cannot create \(target)")
                        }
                        output = file
                    },
                    emit: { bytes in
                        if name == "SHA256SUMS" {
                            sums += bytes
                            return
                        }
                        bytes.withUnsafeBytes { hasher.update($0) }
                        try output?.write(contentsOf: bytes)
                    })
            }
            close()
            try reader.finish()
        } catch let error as FormatError {
            throw ClientError.integrity("the folder artifact is not a valid archive: \(error.message)")
        }
        var listed = Set<String>()
        for line in String(decoding: sums, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let file = String(parts[1].drop { $0 == " " })
            guard digests[file] == String(parts[0]) else {
                throw ClientError.integrity(
                    "\(file): sha256 \(digests[file] ?? "missing") but SHA256SUMS says \(parts[0]); download again")
            }
            listed.insert(file)
        }
        guard !listed.isEmpty, listed == Set(digests.keys) else {
            throw ClientError.integrity("the folder artifact's SHA256SUMS does not list exactly its files; download again")
        }
        guard rename(staging, path) == 0 else {
            throw ClientError.file("cannot move \(staging) to \(path): \(String(cString: strerror(errno)))")
        }
        done = true
    }

    /// The `{"quantization_config": ...}` fragment of a compressed-tensors artifact (to merge into
    /// the model's config.json), or nil when the job wrote another format.
    public func artifactConfig(ofJob id: String) throws -> String? {
        let response = try send("GET", "/v1/jobs/\(escape(id))/artifact/config")
        if response.status == 404,
            (try? WireCoding.decode(Problem.self, from: response.body))?.type.hasSuffix("/no-config") == true
        {
            return nil
        }
        return String(decoding: try check(response).body, as: UTF8.self)
    }

    /// One GET of the artifact, from where `partial` ends.
    private func fetch(id: String, into partial: String, expectedSize: Int64, progress: (@Sendable (TransferProgress) -> Void)?)
        throws
    {
        let have = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int64) ?? 0
        if have == expectedSize { return }
        if have > expectedSize { try? FileManager.default.removeItem(atPath: partial) }
        var request = CurlRequest(method: "GET", url: url("/v1/jobs/\(escape(id))/artifact"), sink: .file(path: partial))
        let offset = have > expectedSize ? 0 : have
        if offset > 0 { request.headers.append(("Range", "bytes=\(offset)-")) }
        let response = try perform(request, retry: .all, progress: progress)
        switch response.status {
        case 206 where offset > 0: return
        case 200:
            // The server sent the whole file (no range support or a changed file): bytes after
            // `offset` were appended to a stale prefix, so start over.
            guard offset == 0 else {
                try? FileManager.default.removeItem(atPath: partial)
                throw ClientError.network(code: 18, message: "the server ignored the range; restarting the download")
            }
        default:
            _ = try check(response)
            throw ClientError.invalidResponse("status \(response.status) for an artifact download")
        }
    }

    static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ClientError.file("cannot read \(path)") }
        defer { try? handle.close() }
        var digest = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { digest.update($0) }
        }
        return SHA256.hex(digest.finalize())
    }
}
