import Foundation

/// A response as a test sees it: status, headers and the whole body, files read in.
public struct TestResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension Router {
    /// Runs one request through the router in-process, without a socket: routing, the guard and
    /// the handler, as `HTTPServer` would (Hummingbird's `app.test(.router)` plays the same part).
    public func test(_ method: String, _ target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) throws
        -> TestResponse
    {
        guard let method = HTTPMethod(method) else { throw HTTPError(400, "malformed method \(method)") }
        var request = HTTPRequest(
            method: method, target: target, version: "HTTP/1.1", headers: headers + [("Content-Length", String(body.count))])
        prepare(&request)
        let requestBody = RequestBody(declaredLength: Int64(body.count), onDrain: {})
        requestBody.push(body)
        requestBody.finish()
        let response = try respond(to: request, body: requestBody)
        let bytes: [UInt8]
        switch response.body {
        case .empty: bytes = []
        case .bytes(let b): bytes = b
        case .file(let path, let range):
            guard let handle = FileHandle(forReadingAtPath: path) else { throw HTTPError(500, "cannot read \(path)") }
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(range.lowerBound))
            bytes = [UInt8](try handle.read(upToCount: Int(range.upperBound - range.lowerBound)) ?? Data())
        }
        return TestResponse(status: response.status.code, headers: response.headers, body: bytes)
    }
}
