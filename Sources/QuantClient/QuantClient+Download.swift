import Digest
import Foundation

extension QuantClient {
    /// Downloads a succeeded job's artifact to `path`, streamed to disk. Bytes arrive in
    /// `path.partial`; an interrupted download resumes from there with `Range`, retrying network
    /// errors. The finished file must hash to the server's ETag (its sha256) before it is renamed
    /// to `path`; a mismatch deletes the partial file and throws `.integrity`.
    @discardableResult
    public func downloadArtifact(ofJob id: String, to path: String, progress: (@Sendable (TransferProgress) -> Void)? = nil)
        throws -> ArtifactInfo
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
        guard rename(partial, path) == 0 else {
            throw ClientError.file("cannot move \(partial) to \(path): \(String(cString: strerror(errno)))")
        }
        return artifact
    }

    /// The `{"quantization_config": ...}` fragment of a compressed-tensors artifact (to merge into
    /// the model's config.json), or nil when the job wrote another format.
    public func artifactConfig(ofJob id: String) throws -> String? {
        let response = try send("GET", "/v1/jobs/\(escape(id))/artifact/config")
        if response.status == 404, (try? JSONDecoder().decode(Problem.self, from: Data(response.body)))?.type.hasSuffix("/no-config") == true { return nil }
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
