/// A request head: method, target and fields as received (names case-insensitive on lookup).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request target as sent ("/v1/jobs?limit=5").
    public var target: String
    public var version: String
    public var headers: [(name: String, value: String)]
    /// Filled by the router.
    public var pathParameters: [String: String] = [:]
    /// Values middleware attaches for handlers (e.g. the authenticated tenant).
    public var context = RequestContext()
    /// Set by `Router.prepare`: the index of the matched route, -1 for none, nil before routing.
    public var routeHint: Int?

    public var path: String {
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        return String(target[..<question])
    }

    public var query: [String: String] {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var result: [String: String] = [:]
        for pair in q.split(separator: "&") {
            // "=x", "=" and "x" are all legal shapes: never index past what split returned.
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = parts.first else { continue }
            let key = String(first).removingPercentEncoding ?? String(first)
            let value =
                parts.count > 1
                ? (String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[1])) : ""
            result[key] = value
        }
        return result
    }

    /// The first field named `name` (any case). Compares bytes in place: lowercasing both names per
    /// field cost two allocations each, on every lookup of every request.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }

    public func headers(_ name: String) -> [String] {
        headers.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }

    /// HTTP/1.1 keeps the connection unless "Connection: close"; HTTP/1.0 closes unless keep-alive.
    /// The field is a comma-separated token list.
    public var keepAlive: Bool {
        let tokens = headers("connection").flatMap { $0.split(separator: ",") }.map {
            String($0.filter { $0 != " " && $0 != "\t" })
        }
        if version == "HTTP/1.0" { return tokens.contains { $0.equalsIgnoringASCIICase("keep-alive") } }
        return !tokens.contains { $0.equalsIgnoringASCIICase("close") }
    }
}

extension String {
    /// ASCII case-insensitive equality (header names and tokens are ASCII).
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return zip(utf8, other.utf8).allSatisfy { a, b in
            a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= UInt8(ascii: "a") && (a | 0x20) <= UInt8(ascii: "z"))
        }
    }

    /// Percent-decoding without Foundation.
    var removingPercentEncoding: String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let hi = iterator.next(), let lo = iterator.next(),
                    let value = UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
