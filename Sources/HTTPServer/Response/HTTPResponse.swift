import Foundation

/// A response: status, fields and a body that is either bytes in memory or a file range streamed
/// from disk (downloads never sit in memory).
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case empty
        case bytes([UInt8])
        /// `range` of the file at `path` (the whole file when nil).
        case file(path: String, range: Range<Int64>)
    }

    public var status: HTTPStatus
    public var headers: [(name: String, value: String)]
    public var body: Body

    public init(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ status: HTTPStatus, _ text: String, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        json(status, bytes: Array(text.utf8), headers: headers)
    }

    public static func json(_ status: HTTPStatus, bytes: [UInt8], headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: .bytes(bytes))
    }

    public static func text(_ status: HTTPStatus, _ text: String, contentType: String = "text/plain; charset=utf-8")
        -> HTTPResponse
    {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(text.utf8)))
    }

    public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    var bodyLength: Int64 {
        switch body {
        case .empty: 0
        case .bytes(let b): Int64(b.count)
        case .file(_, let range): range.upperBound - range.lowerBound
        }
    }

    /// The status line and fields, with Content-Length and Connection filled in.
    func head(keepAlive: Bool, includeBodyLength: Bool = true) -> [UInt8] {
        // Bytes appended in place (string interpolation and lowercased() cost ~9 allocations per
        // response on the polling path).
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 })
        let crlf: [UInt8] = [0x0D, 0x0A]
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        Self.appendDecimal(status.code, to: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: HTTPResponse.reason(status.code).utf8)
        out.append(contentsOf: crlf)
        for (name, value) in headers where !Self.named(name, "content-length") && !Self.named(name, "connection") {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: crlf)
        }
        if includeBodyLength && status != 204 && status != 304 && !(100..<200).contains(status.code) {
            out.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(bodyLength, to: &out)
            out.append(contentsOf: crlf)
        }
        if !keepAlive { out.append(contentsOf: "Connection: close\r\n".utf8) }
        out.append(contentsOf: crlf)
        return out
    }

    /// Whether a header name is `lowercase` (ASCII, case-insensitive), without allocating.
    static func named(_ name: String, _ lowercase: String) -> Bool {
        name.utf8.count == lowercase.utf8.count
            && zip(name.utf8, lowercase.utf8).allSatisfy { a, b in a == b || (a >= 0x41 && a <= 0x5A && a | 0x20 == b) }
    }

    static func appendDecimal<T: BinaryInteger>(_ value: T, to out: inout [UInt8]) {
        guard value >= 0 else { return out.append(contentsOf: String(value).utf8) }
        let start = out.count
        var rest = value
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10))
            rest /= 10
        } while rest > 0
        out[start...].reverse()
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        case 507: "Insufficient Storage"
        default: "Status \(status)"
        }
    }
}
