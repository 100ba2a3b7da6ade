import Foundation
import Synchronization

/// Routes by method and path pattern (`/v1/jobs/{id}`), with path parameters, a body limit per
/// route, and one place where errors become problem+json. Every response carries an X-Request-Id
/// (the client's, if it sent a sane one).
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest, RequestBody) throws -> HTTPResponse

    struct Route {
        let method: String
        let inline: Bool
        let segments: [Segment]
        let bodyLimit: Int64
        let handler: Handler
    }

    enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    private var routes: [Route] = []
    /// Called after each response (access logs, metrics): request, response, seconds, route pattern.
    public var observer: (@Sendable (HTTPRequest, HTTPResponse, Double, String) -> Void)?
    /// Runs before every handler (authentication): throw to refuse.
    public var guardRequest: (@Sendable (inout HTTPRequest, String) throws -> Void)?
    /// Preflight for `Expect: 100-continue`.
    public var expectation: (@Sendable (HTTPRequest) -> HTTPResponse?)?

    public init() {}

    /// `inline`: a quick handler with no request body (a lookup by id): it runs on the connection's
    /// queue, saving two thread hand-offs per request. Anything that may block for long must not be inline.
    public mutating func add(_ method: String, _ pattern: String, bodyLimit: Int64 = 1 << 20, inline: Bool = false, _ handler: @escaping Handler) {
        let segments = pattern.split(separator: "/").map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
        routes.append(Route(method: method, inline: inline, segments: segments, bodyLimit: bodyLimit, handler: handler))
    }

    func match(_ path: String) -> [(Route, [String: String])] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        return routes.compactMap { route in
            guard route.segments.count == parts.count else { return nil }
            var parameters: [String: String] = [:]
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let text): if text != part { return nil }
                case .parameter(let name): parameters[name] = part.removingPercentEncoding ?? part
                }
            }
            return (route, parameters)
        }
    }

    static func pattern(_ route: Route) -> String {
        "/" + route.segments.map { if case .literal(let t) = $0 { t } else if case .parameter(let n) = $0 { "{\(n)}" } else { "" } }.joined(separator: "/")
    }

    /// The matched route's limit; a small one for requests that match no route, so they still reach
    /// the router and get their 404 or 405 rather than a 413.
    public func bodyLimit(for request: HTTPRequest) -> Int64 {
        match(request.path).first { $0.0.method == request.method }?.0.bodyLimit ?? 64 * 1024
    }

    public func preflight(_ request: HTTPRequest) -> HTTPResponse? { expectation?(request) }

    public func runsInline(_ request: HTTPRequest) -> Bool {
        match(request.path).first { $0.0.method == request.method }?.0.inline ?? false
    }

    public func respond(to request: HTTPRequest, body: RequestBody) throws -> HTTPResponse {
        let started = Date()
        let requestID = request.header("x-request-id").flatMap { id in
            id.count <= 128 && id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) ? id : nil
        } ?? RequestID.next()
        var response: HTTPResponse
        var pattern = "unmatched"
        let matches = match(request.path)
        if let (route, parameters) = matches.first(where: { $0.0.method == request.method || (request.method == "HEAD" && $0.0.method == "GET") }) {
            pattern = Self.pattern(route)
            var routed = request
            routed.pathParameters = parameters
            do {
                try guardRequest?(&routed, pattern)
                response = try route.handler(routed, body)
            } catch let error as HTTPError {
                response = error.response
            } catch {
                response = HTTPError(500, "the server failed to answer this request").response
            }
        } else if !matches.isEmpty {
            let allowed = Set(matches.map(\.0.method)).sorted().joined(separator: ", ")
            response = HTTPError(405, "\(request.method) is not allowed on \(request.path); use \(allowed)", headers: [("Allow", allowed)]).response
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
