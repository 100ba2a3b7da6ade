/// A key for a value that middleware attaches to a request for its handlers; the key's type says
/// what the value is, so handlers read it without casts or agreed strings.
///
///     enum AuthenticatedTenant: RequestContextKey { typealias Value = String }
///     request.context[AuthenticatedTenant.self] = "t_123"
public protocol RequestContextKey {
    associatedtype Value: Sendable
}

/// The values attached to one request, by key type.
public struct RequestContext: Sendable {
    private var values: [ObjectIdentifier: any Sendable] = [:]

    public init() {}

    public subscript<Key: RequestContextKey>(_ key: Key.Type) -> Key.Value? {
        get { values[ObjectIdentifier(key)] as? Key.Value }
        set { values[ObjectIdentifier(key)] = newValue }
    }
}
