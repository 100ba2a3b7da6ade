import HTTPTypes

// The server's HTTP vocabulary is swift-http-types' (NIO-free), the types the Swift server
// ecosystem shares: a method is a validated token, a status a code (compared by code alone).
// Header fields stay (name, value) pairs: with its HTTPFields (a validated, lowercased name built per
// field) the release build answered 5.8% fewer polls and 5% fewer health checks per second (wrk,
// four alternating rounds each), over the 5% the switch was allowed to cost.

/// A request method (GET, POST, ... or any other token).
public typealias HTTPMethod = HTTPTypes.HTTPRequest.Method
/// A response status.
public typealias HTTPStatus = HTTPTypes.HTTPResponse.Status
