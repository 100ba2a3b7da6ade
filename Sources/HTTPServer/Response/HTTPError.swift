import Foundation
import JSON
import Synchronization

/// Where problem `type` URIs point. The application sets the base once (quantd: its problem
/// documentation); without one the slug alone is the type, a relative URI reference (RFC 9457 3.1.1).
public enum ProblemType {
    private static let base = Mutex("")

    public static func setBase(_ url: String) { base.withLock { $0 = url } }

    static func uri(_ slug: String) -> String { base.withLock { $0 } + slug }
}

/// The one error type of the HTTP layer: it renders itself as `application/problem+json`
/// (RFC 9457) with a detail that says what to fix.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var title: String
    public var detail: String
    /// A stable problem type slug, e.g. "invalid-recipe" (becomes the `type` URI).
    public var type: String
    public var headers: [(name: String, value: String)]
    /// Extra members of the problem object: string values by key (quoted when rendered).
    public var extensions: [(String, String)]

    public init(
        _ status: Int, _ detail: String, type: String? = nil, title: String? = nil, headers: [(name: String, value: String)] = [],
        extensions: [(String, String)] = []
    ) {
        self.status = status
        self.detail = detail
        self.type = type ?? HTTPResponse.reason(status).lowercased().replacingOccurrences(of: " ", with: "-")
        self.title = title ?? HTTPResponse.reason(status)
        self.headers = headers
        self.extensions = extensions
    }

    public var description: String { "\(status) \(title): \(detail)" }

    public var response: HTTPResponse {
        var out = JSONStream(capacity: 256)
        out.beginObject()
        out.key("type")
        out.string(ProblemType.uri(type))
        out.key("title")
        out.string(title)
        out.key("status")
        out.integer(status)
        out.key("detail")
        out.string(detail)
        for (key, value) in extensions {
            out.key(key)
            out.string(value)
        }
        out.endObject()
        return HTTPResponse(
            status: HTTPStatus(code: status), headers: [("Content-Type", "application/problem+json")] + headers,
            body: .bytes(out.bytes))
    }
}
