import Digest
import Foundation
import HTTPServer
import JSON
import ModelFormats
import QuantAPI
import QuantCore
import QuantStore

/// API v1 of QuantService on the generic HTTP server: routes, authentication, errors as
/// problem+json. Handlers are thin: they translate HTTP to the store and the workers and back.
public final class ServiceAPI: Sendable {
    public let store: Store
    public let data: DataDirectory
    public let pool: WorkerPool
    public let config: ServiceConfig
    public let metrics: HTTPMetrics

    public init(store: Store, data: DataDirectory, pool: WorkerPool, config: ServiceConfig) {
        ProblemType.setBase("https://quantservice.dev/problems/")
        self.store = store
        self.data = data
        self.pool = pool
        self.config = config
        metrics = HTTPMetrics(
            registry: pool.counters.registry, replica: pool.identity, database: store.isShared ? "postgresql" : "sqlite")
    }

    /// The tenant id of the request's API key, attached by the router's guard.
    enum AuthenticatedTenant: RequestContextKey { typealias Value = String }

    /// Routes answered without a key: health, metrics, and the console's own files (the console
    /// then sends the key it is given with every API call).
    static let openRoutes: Set<String> = Set(
        ["/healthz", "/readyz", "/metrics", "/"] + consoleFiles.keys.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })

    public func router() -> Router {
        var router = Router()
        let store = store
        let metrics = metrics
        router.guardRequest = { request, pattern in
            guard !ServiceAPI.openRoutes.contains(pattern), !ServiceAPI.authenticatesItself(request.method, pattern) else {
                return
            }
            request.context[AuthenticatedTenant.self] = try ServiceAPI.authenticate(request, store: store)
        }
        router.expectation = { request in
            // Authenticate (and check the declared size) before inviting a large body.
            do {
                _ = try ServiceAPI.authenticate(request, store: store)
                return nil
            } catch let error as HTTPError {
                return error.response
            } catch {
                return ServiceAPI.unauthorized.response
            }
        }
        router.observer = { request, response, seconds, pattern in
            metrics.observe(route: pattern, status: response.status.code, seconds: seconds)
        }
        addHealth(&router)
        addConsole(&router)
        addModels(&router)
        addDatasets(&router)
        addJobs(&router)
        return router
    }

    /// Lookups by id may run on the connection's event loop only when they read a local SQLite file
    /// (microseconds). On PostgreSQL they wait for a round trip, or for a network timeout when the
    /// link is cut, and would stall every connection on that loop.
    var lookupsAreLocal: Bool { !store.isShared }

    static let unauthorized = HTTPError(
        401, "send a valid API key as `Authorization: Bearer <key>`", type: "unauthorized",
        headers: [("WWW-Authenticate", "Bearer")])

    /// The tenant id of the request's key. Unknown, revoked and malformed keys all get the same 401;
    /// a database that cannot be reached is a 503, so clients retry instead of doubting their key.
    static func authenticate(_ request: HTTPRequest, store: Store) throws -> String {
        guard let key = bearerKey(request) else { throw unauthorized }
        let tenant: String?
        do { tenant = try store.tenantID(forKey: key) } catch { throw http(error) }
        guard let tenant else { throw unauthorized }
        return tenant
    }

    static func bearerKey(_ request: HTTPRequest) -> String? {
        guard let header = request.header("authorization"), header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst(7).trimmingBlanks())
    }

    /// Polling a job checks its key in the same statement as the lookup (`Store.poll`).
    static func authenticatesItself(_ method: HTTPMethod, _ pattern: String) -> Bool {
        pattern == "/v1/jobs/{id}" && (method == .get || method == .head)
    }

    func scope(_ request: HTTPRequest) throws -> TenantScope {
        guard let tenant = request.context[AuthenticatedTenant.self] else { throw Self.unauthorized }
        return store.scope(tenant)
    }

    /// Store errors as HTTP: another tenant's objects are plain 404s.
    static func http(_ error: any Error) -> any Error {
        switch error {
        case let error as HTTPError: return error
        case StoreError.notFound(let what): return HTTPError(404, "\(what) does not exist", type: "not-found")
        case StoreError.conflict(let message): return HTTPError(409, message, type: "conflict")
        case StoreError.idempotencyConflict(let key):
            return HTTPError(
                422, "Idempotency-Key '\(key)' was already used with a different request body; use a new key",
                type: "idempotency-conflict")
        case StoreError.quotaExceeded(let message):
            return HTTPError(429, message, type: "quota-exceeded", headers: [("Retry-After", "30")])
        case StoreError.invalid(let message): return HTTPError(400, message, type: "invalid-request")
        case StoreError.unavailable(let message):
            return HTTPError(503, message, type: "database-unavailable", headers: [("Retry-After", "5")])
        default: return error
        }
    }

    static func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw http(error) }
    }

    static func json(_ status: HTTPStatus, _ value: JSONValue, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        .json(status, bytes: value.serializedBytes, headers: headers)
    }

    /// One of the API's types (QuantAPI) as the body.
    static func json<T: Encodable>(_ status: HTTPStatus, _ value: T, headers: [(name: String, value: String)] = []) throws
        -> HTTPResponse
    {
        .json(status, bytes: try WireCoding.encode(value), headers: headers)
    }

    /// `?name=` of an upload (at most 256 characters), or `fallback`.
    static func uploadName(_ request: HTTPRequest, default fallback: String) throws -> String {
        let name = request.query["name"].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        guard name.count <= 256 else { throw HTTPError(400, "name must be at most 256 characters") }
        return name
    }

    /// `?limit=` as 1...500, or a 400 that says so.
    static func limit(_ request: HTTPRequest, default value: Int) throws -> Int {
        guard let text = request.query["limit"] else { return value }
        guard let limit = Int(text), (1...500).contains(limit) else {
            throw HTTPError(400, "limit must be an integer from 1 to 500, got '\(text)'")
        }
        return limit
    }
}

extension HTTPResponse {
    var contentLength: Int64 {
        switch body {
        case .empty: 0
        case .bytes(let b): Int64(b.count)
        case .file(_, let range): range.upperBound - range.lowerBound
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (Foundation's trimmingCharacters costs more than
    /// the rest of authentication).
    func trimmingBlanks() -> Substring {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return self[first...last]
    }
}
