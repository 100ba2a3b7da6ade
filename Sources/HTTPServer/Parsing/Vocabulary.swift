import HTTPTypes

// The server's HTTP vocabulary is swift-http-types' (NIO-free), the types the Swift server
// ecosystem shares: a method is a validated token, a status a code (compared by code alone).

/// A request method (GET, POST, ... or any other token).
public typealias HTTPMethod = HTTPTypes.HTTPRequest.Method
/// A response status.
public typealias HTTPStatus = HTTPTypes.HTTPResponse.Status
