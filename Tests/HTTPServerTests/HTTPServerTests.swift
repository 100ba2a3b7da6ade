import Foundation
import Testing

@testable import HTTPServer

/// A test app: echo, a slow body reader, a file download, and a guarded route.
func makeServer(limits: HTTPLimits = HTTPLimits()) throws -> HTTPServer {
    var router = Router()
    router.add(.get, "/hello") { _, _ in .text(200, "hello") }
    router.add(.get, "/quick", inline: true) { _, _ in .text(200, "q") }
    router.add(.get, "/items/{id}") { request, _ in .text(200, "item \(request.pathParameters["id"] ?? "")") }
    router.add(.post, "/echo", bodyLimit: 64 << 20) { _, body in
        var all: [UInt8] = []
        while let chunk = try body.read() { all += chunk }
        return HTTPResponse(status: 200, body: .bytes(all))
    }
    router.add(.post, "/count", bodyLimit: 1 << 30) { _, body in
        var count = 0
        while let chunk = try body.read() {
            count += chunk.count
            Thread.sleep(forTimeInterval: 0.0005)  // a slow consumer: the reader must be throttled
        }
        return .text(200, "\(count)")
    }
    router.add(.post, "/small", bodyLimit: 10) { _, body in .text(200, "\(try body.collect(limit: 10).count)") }
    router.add(.get, "/file") { request, _ in
        try FileResponse.make(path: testFile, request: request, etag: "abc123", downloadName: "f.bin")
    }
    router.add(.put, "/guarded", bodyLimit: 1 << 20) { _, body in .text(200, "\(try body.collect(limit: 1 << 20).count)") }
    router.expectation = { request in
        request.header("authorization") == "Bearer ok" ? nil : HTTPError(401, "send a key").response
    }
    let server = HTTPServer(port: 0, limits: limits, responder: router)
    try server.start()
    return server
}

let testFile: String = {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
        "qs-http-file-\(ProcessInfo.processInfo.processIdentifier)"
    ).path
    let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}()

@Suite("HTTP server over real sockets", .serialized)
struct HTTPServerTests {
    @Test func keepAliveAndPipelining() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /items/42 HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try #require(client.readResponse())
        #expect(first.status == 200 && String(decoding: first.body, as: UTF8.self) == "hello")
        #expect(first.headers["x-request-id"] != nil)
        let second = try #require(client.readResponse())
        #expect(String(decoding: second.body, as: UTF8.self) == "item 42")
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(client.readResponse()?.headers["connection"] == "close")
        #expect(client.isClosedByPeer())
    }

    @Test func problemJSONForUnknownRoutesAndMethods() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port)
        client.send("GET /nope HTTP/1.1\r\n\r\n")
        let missing = try #require(client.readResponse())
        #expect(missing.status == 404 && missing.headers["content-type"] == "application/problem+json")
        let problem = try JSONSerialization.jsonObject(with: Data(missing.body)) as? [String: Any]
        #expect(problem?["status"] as? Int == 404 && (problem?["detail"] as? String)?.contains("/nope") == true)
        client.send("DELETE /hello HTTP/1.1\r\n\r\n")
        let wrong = try #require(client.readResponse())
        #expect(wrong.status == 405 && wrong.headers["allow"] == "GET")
    }

    @Test(arguments: [
        ("GET /hello HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400),
        ("POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
        ("GET /hello HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET /hello HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", 400),
        ("GET /hello HTTP/1.1\r\nX: a\u{0}b\r\n\r\n", 400),
        ("GET /hello HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
        ("GET /hello HTTP/2.0\r\n\r\n", 505),
        ("GET  /hello HTTP/1.1\r\n\r\n", 400),
        ("G(T /hello HTTP/1.1\r\n\r\n", 400),
        ("G\u{E9}T /hello HTTP/1.1\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST /echo HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
    ])
    func malformedFramingIsRejectedAndClosed(request: String, status: Int) throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port)
        client.send(request + "GET /hello HTTP/1.1\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.status == status, "\(request.debugDescription)")
        if status == 400 || status == 505 {
            // Nothing after a malformed request is parsed as a new request.
            #expect(client.isClosedByPeer())
        }
    }

    @Test func chunkedBodiesWithExtensionsAndTrailers() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port)
        client.send(
            "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        let response = try #require(client.readResponse())
        #expect(String(decoding: response.body, as: UTF8.self) == "hello world")
        client.send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(client.readResponse()?.status == 200)
    }

    @Test func limits() throws {
        var limits = HTTPLimits()
        limits.maxRequestLine = 100
        limits.maxHeaderBytes = 400
        limits.maxHeaderCount = 5
        let server = try makeServer(limits: limits)
        defer { server.shutdown(deadline: 1) }
        let long = try RawClient(port: server.port)
        long.send("GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\n\r\n")
        #expect(long.readResponse()?.status == 414)
        // A request line longer than the whole head's limit, sent complete: still 414, not 431.
        let longer = try RawClient(port: server.port)
        longer.send("GET /" + String(repeating: "a", count: 600) + " HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(longer.readResponse()?.status == 414)
        // A TLS ClientHello on the plain-HTTP port gets a 400 that says so.
        let tls = try RawClient(port: server.port)
        tls.send([0x16, 0x03, 0x01, 0x00, 0x2F, 0x01, 0x00, 0x00, 0x2B, 0x03, 0x03] + [UInt8](repeating: 7, count: 40))
        let answer = tls.readResponse()
        #expect(answer?.status == 400)
        let detail = String(decoding: answer?.body ?? [], as: UTF8.self)
        #expect(detail.contains("plain HTTP"))
        let big = try RawClient(port: server.port)
        big.send("GET /hello HTTP/1.1\r\nX: " + String(repeating: "b", count: 500) + "\r\n\r\n")
        #expect(big.readResponse()?.status == 431)
        let many = try RawClient(port: server.port)
        many.send("GET /hello HTTP/1.1\r\n" + (0..<6).map { "X\($0): y\r\n" }.joined() + "\r\n")
        #expect(many.readResponse()?.status == 431)
        // 413 is answered from the head alone, and the connection closed without reading the body.
        let body = try RawClient(port: server.port)
        body.send("POST /small HTTP/1.1\r\nContent-Length: 11\r\n\r\n")
        #expect(body.readResponse()?.status == 413)
        #expect(body.isClosedByPeer())
        let chunked = try RawClient(port: server.port)
        chunked.send("POST /small HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
        let over = chunked.readResponse()
        #expect(over?.status == 413, "\(String(describing: over))")
        #expect(chunked.isClosedByPeer())
    }

    @Test func expectContinue() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let ok = try RawClient(port: server.port)
        ok.send("PUT /guarded HTTP/1.1\r\nAuthorization: Bearer ok\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try #require(ok.readResponse())
        #expect(interim.status == 100)
        ok.send("abcde")
        let final = try #require(ok.readResponse())
        #expect(final.status == 200 && String(decoding: final.body, as: UTF8.self) == "5")
        let refused = try RawClient(port: server.port)
        refused.send("PUT /guarded HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        #expect(refused.readResponse()?.status == 401)
        #expect(refused.isClosedByPeer())
    }

    @Test func timeouts() throws {
        var limits = HTTPLimits()
        limits.headerTimeout = 1
        limits.bodyIdleTimeout = 1
        limits.keepAliveTimeout = 1
        let server = try makeServer(limits: limits)
        defer { server.shutdown(deadline: 1) }
        let slowHead = try RawClient(port: server.port)
        slowHead.send("GET /hello HTTP/1.1\r\nX-Slow: ")
        #expect(slowHead.readResponse()?.status == 408)
        let slowBody = try RawClient(port: server.port)
        slowBody.send("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly a little")
        #expect(slowBody.readResponse()?.status == 408)
        let idle = try RawClient(port: server.port, timeout: 5)
        idle.send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(idle.readResponse()?.status == 200)
        #expect(idle.isClosedByPeer())  // closed after ~1 s of keep-alive idleness
    }

    @Test func rangesAndETags() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let expected = try Data(contentsOf: URL(fileURLWithPath: testFile))
        let client = try RawClient(port: server.port)
        client.send("GET /file HTTP/1.1\r\n\r\n")
        let whole = try #require(client.readResponse())
        #expect(whole.status == 200 && Data(whole.body) == expected && whole.headers["etag"] == "\"abc123\"")
        client.send("GET /file HTTP/1.1\r\nRange: bytes=100-199\r\n\r\n")
        let part = try #require(client.readResponse())
        #expect(
            part.status == 206 && Data(part.body) == expected[100..<200]
                && part.headers["content-range"] == "bytes 100-199/3000000")
        client.send("GET /file HTTP/1.1\r\nRange: bytes=-10\r\n\r\n")
        #expect(Data(try #require(client.readResponse()).body) == expected.suffix(10))
        client.send("GET /file HTTP/1.1\r\nRange: bytes=3000000-\r\n\r\n")
        #expect(client.readResponse()?.status == 416)
        client.send("GET /file HTTP/1.1\r\nIf-None-Match: \"abc123\"\r\n\r\n")
        #expect(client.readResponse()?.status == 304)
    }

    @Test func largeUploadStreamsThrough() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port, timeout: 30)
        let size = 64 << 20
        client.send("POST /count HTTP/1.1\r\nContent-Length: \(size)\r\n\r\n")
        let chunk = [UInt8](repeating: 7, count: 1 << 20)
        for _ in 0..<64 { client.send(chunk) }
        let response = try #require(client.readResponse())
        #expect(String(decoding: response.body, as: UTF8.self) == "\(size)")
    }

    @Test func droppedUploadFailsTheHandler() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        do {
            let client = try RawClient(port: server.port)
            client.send("POST /echo HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n" + String(repeating: "x", count: 1000))
        }  // closed here, halfway
        Thread.sleep(forTimeInterval: 0.2)
        #expect(server.connectionCount == 0)
    }

    @Test func holdsAThousandIdleConnections() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        var clients: [RawClient] = []
        for _ in 0..<1000 { clients.append(try RawClient(port: server.port)) }
        let end = Date().addingTimeInterval(5)
        while server.connectionCount < 1000 && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
        #expect(server.connectionCount == 1000)
        clients[500].send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(clients[500].readResponse()?.status == 200)
    }

    @Test func maximumConnections() throws {
        var limits = HTTPLimits()
        limits.maxConnections = 3
        let server = try makeServer(limits: limits)
        defer { server.shutdown(deadline: 1) }
        let kept = try (0..<3).map { _ in try RawClient(port: server.port) }
        Thread.sleep(forTimeInterval: 0.1)
        let extra = try RawClient(port: server.port)
        #expect(extra.isClosedByPeer())
        kept[0].send("GET /hello HTTP/1.1\r\n\r\n")
        #expect(kept[0].readResponse()?.status == 200)
    }

    @Test func http10AndHead() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let old = try RawClient(port: server.port)
        old.send("GET /hello HTTP/1.0\r\n\r\n")
        #expect(old.readResponse()?.status == 200)
        #expect(old.isClosedByPeer())
        let head = try RawClient(port: server.port)
        head.send("HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n")
        let first = try #require(head.readResponse())
        #expect(first.status == 200 && first.body.isEmpty)
    }
}

@Suite("Request parsing edge cases")
struct RequestParsingTests {
    @Test func hostileQueryStrings() {
        for target in ["/x?=", "/x?=a", "/x?a", "/x?&&", "/x?a=%zz", "/x?%", "/x?a=1&a=2", "/x?"] {
            let request = HTTPRequest(method: .get, target: target, version: "HTTP/1.1", headers: [])
            _ = request.query  // must not trap
        }
        #expect(
            HTTPRequest(method: .get, target: "/x?a=1&b=%41+c", version: "HTTP/1.1", headers: []).query == [
                "a": "1", "b": "A c",
            ])
    }

    @Test func unknownMethodWithABodyGets405() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port)
        client.send("TRACE /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        #expect(client.readResponse()?.status == 405)
    }
}

@Suite("Pipelining at depth")
struct DeepPipeliningTests {
    /// Thousands of pipelined requests in one write are all answered, in order, without growing the
    /// stack (an earlier version recursed once per request).
    @Test func twentyThousandPipelinedRequests() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port, timeout: 20)
        let count = 20000
        // An inline route answers on the event loop, where the recursion used to happen.
        client.send(
            String(repeating: "GET /quick HTTP/1.1\r\n\r\n", count: count - 1)
                + "GET /quick HTTP/1.1\r\nConnection: close\r\n\r\n")
        let all = client.readAll()
        #expect(all.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == count)
    }
}
