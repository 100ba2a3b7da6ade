/// What the server asks of the application. Handlers run on a concurrent queue and may block
/// (reading a body, querying a database); they never run on an event loop's thread.
public protocol HTTPResponder: Sendable {
    /// Answers a request. Thrown `HTTPError`s become problem responses; anything else a 500.
    func respond(to request: HTTPRequest, body: RequestBody) throws -> HTTPResponse
    /// Largest body accepted for this request (413 beyond), checked before any body is read.
    func bodyLimit(for request: HTTPRequest) -> Int64
    /// With `Expect: 100-continue`: a response to send instead of `100 Continue` (401, 413...).
    func preflight(_ request: HTTPRequest) -> HTTPResponse?
    /// True for quick, bodiless requests the server may answer on the connection's event loop thread (it must not block).
    func runsInline(_ request: HTTPRequest) -> Bool
    /// Called once per request before the others: a chance to resolve (and remember in the
    /// request) what they would each work out again, such as the route.
    func prepare(_ request: inout HTTPRequest)
}

extension HTTPResponder {
    public func bodyLimit(for request: HTTPRequest) -> Int64 { 1 << 20 }
    public func preflight(_ request: HTTPRequest) -> HTTPResponse? { nil }
    public func runsInline(_ request: HTTPRequest) -> Bool { false }
    public func prepare(_ request: inout HTTPRequest) {}
}
