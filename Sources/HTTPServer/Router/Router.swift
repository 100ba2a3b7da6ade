import Foundation
import Synchronization

/// Routes by method and path pattern (`/v1/jobs/{id}`), with path parameters, a body limit per
/// route, and one place where errors become problem+json. Every response carries an X-Request-Id
/// (the client's, if it sent a sane one).
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest, RequestBody) throws -> HTTPResponse

    struct Route {
        let method: HTTPMethod
        let inline: Bool
        let segments: [Segment]
        /// The pattern as registered (`/v1/jobs/{id}`), for metrics and logs.
        let pattern: String
        let bodyLimit: Int64
        let handler: Handler

        /// True when `parts` fit the pattern: same length, equal literals. Parameters are not decoded
        /// here, since every request tries several routes.
        func fits(_ parts: [Substring]) -> Bool {
            guard segments.count == parts.count else { return false }
            for (segment, part) in zip(segments, parts) {
                if case .literal(let text) = segment, text != part { return false }
            }
            return true
        }

        func parameters(_ parts: [Substring]) -> [String: String] {
            var parameters: [String: String] = [:]
            for (segment, part) in zip(segments, parts) {
                guard case .parameter(let name) = segment else { continue }
                let text = String(part)
                parameters[name] = part.utf8.contains(UInt8(ascii: "%")) ? (text.removingPercentEncoding ?? text) : text
            }
            return parameters
        }
    }

    enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    private var routes: [Route] = []
    /// Called after each response (access logs, metrics): request, response, seconds, route pattern.
    public var observer: (@Sendable (HTTPRequest, HTTPResponse, Double, String) -> Void)?
    /// Told of every error a handler threw that is not an HTTPError (answered as a bare 500), with
    /// the route: the application logs and counts them.
    public var onUnexpectedError: (@Sendable (any Error, String) -> Void)?
    /// Runs before every handler (authentication): throw to refuse.
    public var guardRequest: (@Sendable (inout HTTPRequest, String) throws -> Void)?
    /// Preflight for `Expect: 100-continue`.
    public var expectation: (@Sendable (HTTPRequest) -> HTTPResponse?)?

    public init() {}

    /// `inline`: a quick handler with no request body (a lookup by id): it runs on the connection's event
    /// loop thread, saving two thread hand-offs per request. Anything that may block for long must not be inline:
    /// it would hold up every connection of that loop.
    public mutating func add(
        _ method: HTTPMethod, _ pattern: String, bodyLimit: Int64 = 1 << 20, inline: Bool = false, _ handler: @escaping Handler
    ) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
        let normalized =
            "/"
            + segments.map {
                if case .parameter(let name) = $0 { "{\(name)}" } else if case .literal(let text) = $0 { text } else { "" }
            }
            .joined(separator: "/")
        routes.append(
            Route(method: method, inline: inline, segments: segments, pattern: normalized, bodyLimit: bodyLimit, handler: handler)
        )
    }

    /// The non-empty segments of a path, found by scanning its bytes (the generic `split` cost more
    /// than the rest of routing).
    static func parts(_ path: String) -> [Substring] {
        var parts: [Substring] = []
        parts.reserveCapacity(6)
        let bytes = path.utf8
        var start = bytes.startIndex
        var index = start
        while index != bytes.endIndex {
            if bytes[index] == UInt8(ascii: "/") {
                if start != index { parts.append(path[start..<index]) }
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        if start != bytes.endIndex { parts.append(path[start..<bytes.endIndex]) }
        return parts
    }

    /// The routes whose pattern fits `path`, in registration order, and the path split into parts.
    func match(_ path: String) -> (routes: [Route], parts: [Substring]) {
        let parts = Self.parts(path)
        return (routes.filter { $0.fits(parts) }, parts)
    }

    /// The first route for `method` (HEAD falls back to GET) whose pattern fits `path`.
    func route(_ method: HTTPMethod, _ path: String) -> Route? {
        let parts = Self.parts(path)
        return routes.first { $0.method == method && $0.fits(parts) }
    }

    /// The matched route's limit; a small one for requests that match no route, so they still reach
    /// the router and get their 404 or 405 rather than a 413.
    public func bodyLimit(for request: HTTPRequest) -> Int64 {
        resolved(request)?.bodyLimit ?? 64 * 1024
    }

    /// Matches the route once per request (the path split and scan cost more than the rest of
    /// routing when they ran three times) and stores it with the path parameters.
    public func prepare(_ request: inout HTTPRequest) {
        let parts = Self.parts(request.path)
        let index =
            routes.firstIndex { $0.method == request.method && $0.fits(parts) }
            ?? (request.method == .head ? routes.firstIndex { $0.method == .get && $0.fits(parts) } : nil)
        request.routeHint = index ?? -1
        if let index { request.pathParameters = routes[index].parameters(parts) }
    }

    /// The prepared route, or (for a request that was not prepared) a fresh match by method.
    func resolved(_ request: HTTPRequest) -> Route? {
        guard let hint = request.routeHint else { return route(request.method, request.path) }
        return hint >= 0 && hint < routes.count ? routes[hint] : nil
    }

    public func preflight(_ request: HTTPRequest) -> HTTPResponse? { expectation?(request) }

    public func runsInline(_ request: HTTPRequest) -> Bool {
        resolved(request)?.inline ?? false
    }

    public func respond(to request: HTTPRequest, body: RequestBody) throws -> HTTPResponse {
        let started = Date()
        let requestID =
            request.header("x-request-id").flatMap { id in
                id.count <= 128 && id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) ? id : nil
            } ?? RequestID.next()
        var response: HTTPResponse
        var pattern = "unmatched"
        var routed = request
        if routed.routeHint == nil { prepare(&routed) }
        if let hint = routed.routeHint, hint >= 0, hint < routes.count {
            let route = routes[hint]
            pattern = route.pattern
            do {
                try guardRequest?(&routed, pattern)
                response = try route.handler(routed, body)
            } catch let error as HTTPError {
                response = error.response
            } catch {
                onUnexpectedError?(error, pattern)
                response = HTTPError(500, "the server failed to answer this request").response
            }
        } else if case let matches = match(request.path).routes, !matches.isEmpty {
            let allowed = Set(matches.map(\.method.rawValue)).sorted().joined(separator: ", ")
            response =
                HTTPError(
                    405, "\(request.method) is not allowed on \(request.path); use \(allowed)", headers: [("Allow", allowed)]
                ).response
        } else {
            response = HTTPError(404, "no route for \(request.method) \(request.path)", type: "no-route").response
        }
        response.headers.append(("X-Request-Id", requestID))
        observer?(request, response, Date().timeIntervalSince(started), pattern)
        return response
    }
}

/// Request ids: a random prefix per process and a counter (no syscall per request, unlike UUID()).
enum RequestID {
    static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() & 0xFFFF_FFFF, radix: 16)
    }()
    static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "-" + String(n, radix: 16)
    }
}
