import Foundation
import HTTPServer

/// Streams the `file` fields out of a multipart/form-data body (what `curl -F file=@model` sends)
/// without holding the body: data before the closing delimiter is handed on as it arrives, keeping
/// back only enough bytes to recognise a delimiter split across chunks. By default only the first
/// `file` part is read; with `severalFiles` every one is, each announced with its filename.
struct MultipartFileExtractor {
    enum State { case preamble, headers, fileData, skipPart, done }

    let delimiter: [UInt8]  // "\r\n--boundary"
    var state = State.preamble
    var buffer: [UInt8] = []
    var sawFile = false
    var severalFiles = false
    /// `file` parts read completely.
    private(set) var fileCount = 0

    /// Nil when the content type is not multipart/form-data with a boundary.
    init?(contentType: String) {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data",
            var boundary = parts.dropFirst().first(where: { $0.lowercased().hasPrefix("boundary=") })?.dropFirst(9)
        else { return nil }
        if boundary.hasPrefix("\"") && boundary.hasSuffix("\"") && boundary.count >= 2 {
            boundary = boundary.dropFirst().dropLast()
        }
        guard !boundary.isEmpty, boundary.count <= 70 else { return nil }
        delimiter = Array("\r\n--\(boundary)".utf8)
        // The body starts with the delimiter minus its CRLF; pretend a CRLF came before it.
        buffer = [0x0D, 0x0A]
    }

    /// Feeds body bytes; calls `begin` with each `file` part's filename (nil without one) before
    /// its data, and `emit` with file data. Throws HTTPError on malformed multipart.
    mutating func feed(_ chunk: [UInt8], begin: (String?) throws -> Void = { _ in }, emit: ([UInt8]) throws -> Void) throws {
        buffer += chunk
        while true {
            switch state {
            case .preamble, .skipPart, .fileData:
                guard let at = find(delimiter, in: buffer) else {
                    let keep = delimiter.count - 1
                    if state == .fileData && buffer.count > keep {
                        try emit(Array(buffer[0..<(buffer.count - keep)]))
                        buffer.removeFirst(buffer.count - keep)
                    } else if state != .fileData && buffer.count > keep {
                        buffer.removeFirst(buffer.count - keep)
                    }
                    return
                }
                if state == .fileData {
                    try emit(Array(buffer[0..<at]))
                    sawFile = true
                    fileCount += 1
                }
                buffer.removeFirst(at + delimiter.count)
                state = .headers
            case .headers:
                // After a delimiter: "--" ends the body, otherwise CRLF then part headers.
                if buffer.count >= 2 && buffer[0] == UInt8(ascii: "-") && buffer[1] == UInt8(ascii: "-") {
                    state = .done
                    buffer.removeAll()
                    return
                }
                guard let end = find([0x0D, 0x0A, 0x0D, 0x0A], in: buffer) else {
                    if buffer.count > 16 * 1024 {
                        throw HTTPError(400, "multipart part headers are too large", type: "malformed-multipart")
                    }
                    return
                }
                let original = String(decoding: buffer[0..<end], as: UTF8.self)
                let headers = original.lowercased()
                buffer.removeFirst(end + 4)
                let isFile =
                    headers.contains("content-disposition")
                    && (headers.contains("name=\"file\"") || headers.contains("name=file"))
                state = isFile && (severalFiles || !sawFile) ? .fileData : .skipPart
                if state == .fileData { try begin(Self.filename(original)) }
            case .done:
                buffer.removeAll()
                return
            }
        }
    }

    /// The `filename` parameter of a part's Content-Disposition, as sent (quotes removed).
    static func filename(_ headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition") {
            for parameter in line.split(separator: ";").dropFirst() {
                let pair = parameter.trimmingCharacters(in: .whitespaces)
                guard pair.lowercased().hasPrefix("filename=") else { continue }
                var value = Substring(pair.dropFirst(9))
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
                return String(value)
            }
        }
        return nil
    }

    func finish() throws {
        guard sawFile else {
            throw HTTPError(
                400, "multipart/form-data body has no complete `file` field; send it with -F file=@model.safetensors",
                type: "malformed-multipart")
        }
    }

    /// The first occurrence of `needle`: memchr to each candidate first byte, then memcmp. The
    /// delimiter starts with CR, which is rare in model data, so this runs at memchr's speed; a
    /// byte-by-byte Swift loop held multipart uploads well under raw ones.
    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count, let first = needle.first else { return nil }
        return haystack.withUnsafeBytes { hay -> Int? in
            needle.withUnsafeBytes { pattern -> Int? in
                guard let base = hay.baseAddress, let patternBase = pattern.baseAddress else { return nil }
                let last = hay.count - pattern.count
                var offset = 0
                while offset <= last {
                    guard let hit = memchr(base + offset, Int32(first), last - offset + 1) else { return nil }
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(hit, patternBase, pattern.count) == 0 { return at }
                    offset = at + 1
                }
                return nil
            }
        }
    }
}
