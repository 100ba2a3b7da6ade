import Foundation
import Synchronization
import Testing

@testable import HTTPServer

/// A handler's error that is not an HTTPError is answered as a 500 and handed to the application
/// (quantd logs and counts it) instead of vanishing.
@Suite("Unexpected handler errors")
struct UnexpectedErrorTests {
    struct Broken: Error {}

    @Test func theErrorReachesTheApplicationAndTheClientGetsA500() throws {
        let seen = Mutex<[String]>([])
        var router = Router()
        router.add(.get, "/broken/{id}") { _, _ in throw Broken() }
        router.onUnexpectedError = { error, route in seen.withLock { $0.append("\(type(of: error)) \(route)") } }
        let server = HTTPServer(port: 0, responder: router)
        try server.start()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port)
        client.send("GET /broken/7 HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.status == 500)
        #expect(seen.withLock { $0 } == ["Broken /broken/{id}"])
    }
}
