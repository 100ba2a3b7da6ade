import Foundation

/// File downloads with `Range` (206, 416) and `ETag` / `If-None-Match` (304).
public enum FileResponse {
    /// `etag` is sent quoted; `downloadName` becomes Content-Disposition.
    public static func make(
        path: String, request: HTTPRequest, etag: String?, contentType: String = "application/octet-stream",
        downloadName: String? = nil
    ) throws -> HTTPResponse {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else {
            throw HTTPError(404, "the file is gone")
        }
        var headers: [(name: String, value: String)] = [("Content-Type", contentType), ("Accept-Ranges", "bytes")]
        if let etag { headers.append(("ETag", "\"\(etag)\"")) }
        if let downloadName {
            headers.append(
                ("Content-Disposition", "attachment; filename=\"\(downloadName.replacingOccurrences(of: "\"", with: ""))\""))
        }
        if let etag, let match = request.header("if-none-match"),
            match == "*"
                || match.split(separator: ",").contains(where: {
                    $0.trimmingCharacters(in: " \t") == "\"\(etag)\"" || $0.trimmingCharacters(in: " \t") == "W/\"\(etag)\""
                })
        {
            return HTTPResponse(status: 304, headers: headers.filter { $0.name != "Content-Type" })
        }
        guard let rangeHeader = request.header("range") else {
            return HTTPResponse(status: 200, headers: headers, body: .file(path: path, range: 0..<size))
        }
        guard let range = parseRange(rangeHeader, size: size) else {
            throw HTTPError(
                416, "the range \(rangeHeader) is outside the \(size)-byte file", headers: [("Content-Range", "bytes */\(size)")])
        }
        headers.append(("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)"))
        return HTTPResponse(status: 206, headers: headers, body: .file(path: path, range: range))
    }

    /// One `bytes=` range: `a-b`, `a-` or `-n`. Nil when unsatisfiable or malformed (several ranges
    /// are not supported).
    static func parseRange(_ header: String, size: Int64) -> Range<Int64>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst(6).trimmingCharacters(in: " ")
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]), suffix > 0, size > 0 else { return nil }
            return Swift.max(0, size - suffix)..<size
        }
        guard let start = Int64(parts[0]), start >= 0, start < size else { return nil }
        if parts[1].isEmpty { return start..<size }
        guard let end = Int64(parts[1]), end >= start else { return nil }
        return start..<(Swift.min(end, size - 1) + 1)
    }
}
