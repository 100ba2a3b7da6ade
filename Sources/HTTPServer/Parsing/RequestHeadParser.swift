/// Parses a request head (request line and fields) from bytes that end with CRLF CRLF, applying the
/// framing rules of RFC 9112 and RELIABILITY.md. Errors carry the status to answer with.
enum RequestHeadParser {
    struct Failure: Error, Equatable {
        let status: Int
        let detail: String
    }

    /// `head` excludes the final CRLF CRLF.
    static func parse(_ head: ArraySlice<UInt8>, limits: HTTPLimits) throws -> HTTPRequest {
        var lines = split(head)
        guard let requestLine = lines.first else { throw Failure(status: 400, detail: "empty request") }
        lines.removeFirst()
        guard requestLine.count <= limits.maxRequestLine else {
            throw Failure(status: 414, detail: "request line longer than \(limits.maxRequestLine) bytes")
        }
        // method SP target SP version: exactly two spaces (found by scanning; `split` grew an array).
        guard let firstSpace = requestLine.firstIndex(of: UInt8(ascii: " ")),
            let secondSpace = requestLine[(firstSpace + 1)...].firstIndex(of: UInt8(ascii: " ")),
            !requestLine[(secondSpace + 1)...].contains(UInt8(ascii: " "))
        else { throw Failure(status: 400, detail: "malformed request line") }
        let parts = [requestLine[..<firstSpace], requestLine[(firstSpace + 1)..<secondSpace], requestLine[(secondSpace + 1)...]]
        guard !parts[0].isEmpty, !parts[1].isEmpty else {
            throw Failure(status: 400, detail: "malformed request line")
        }
        // HTTPMethod accepts only a token (RFC 9110), so it is the check.
        guard let method = HTTPMethod(String(decoding: parts[0], as: UTF8.self)) else {
            throw Failure(status: 400, detail: "malformed method")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            throw Failure(status: 505, detail: "only HTTP/1.1 and HTTP/1.0 are supported")
        }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw Failure(status: 400, detail: "malformed request target")
        }
        let target = String(decoding: parts[1], as: UTF8.self)
        guard lines.count <= limits.maxHeaderCount else {
            throw Failure(status: 431, detail: "more than \(limits.maxHeaderCount) header fields")
        }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(lines.count)
        for line in lines {
            guard let first = line.first else { throw Failure(status: 400, detail: "empty header line") }
            // obs-fold (a continuation line) is rejected.
            if first == 0x20 || first == 0x09 { throw Failure(status: 400, detail: "obsolete line folding is not accepted") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw Failure(status: 400, detail: "header field without a colon")
            }
            let name = line[line.startIndex..<colon]
            // No whitespace between the name and the colon; names are tokens.
            guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
                throw Failure(status: 400, detail: "malformed header field name")
            }
            var value = line[(colon + 1)...]
            while let c = value.first, c == 0x20 || c == 0x09 { value = value.dropFirst() }
            while let c = value.last, c == 0x20 || c == 0x09 { value = value.dropLast() }
            // NUL, bare CR or LF and other controls in values are rejected.
            guard value.allSatisfy({ $0 >= 0x20 || $0 == 0x09 }), !value.contains(0x7F) else {
                throw Failure(status: 400, detail: "control character in a header value")
            }
            headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return HTTPRequest(method: method, target: target, version: version, headers: headers)
    }

    /// Lines separated by CRLF; a bare CR or LF is malformed.
    static func split(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        lines.reserveCapacity(16)
        var start = bytes.startIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == 0x0D, i + 1 < bytes.endIndex, bytes[i + 1] == 0x0A {
                lines.append(bytes[start..<i])
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        lines.append(bytes[start..<bytes.endIndex])
        return lines
    }

    static func isTokenCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// How the body is framed, decided from the fields (RFC 9112 section 6).
    enum Framing: Equatable {
        case none
        case length(Int64)
        case chunked
    }

    static func framing(of request: HTTPRequest, limits: HTTPLimits) throws -> Framing {
        let encodings = request.headers("transfer-encoding")
        let lengths = request.headers("content-length")
        if !encodings.isEmpty {
            if !lengths.isEmpty { throw Failure(status: 400, detail: "Content-Length and Transfer-Encoding together") }
            let codings = encodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: " \t").lowercased() }
            guard codings == ["chunked"] else {
                throw Failure(status: 400, detail: "only the chunked transfer coding is supported")
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        let values = Set(lengths.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: " \t") })
        guard values.count == 1, let text = values.first, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            text.utf8.count <= 18, let length = Int64(text)
        else { throw Failure(status: 400, detail: "malformed or conflicting Content-Length") }
        return length == 0 ? .none : .length(length)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self[...]
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
