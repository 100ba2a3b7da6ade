import Dispatch
import Foundation
import Synchronization
import Testing

@testable import HTTPServer

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Event loops", .serialized)
struct EventLoopTests {
    @Test func tasksRunOnTheLoopThreadInTheOrderEachThreadGaveThem() throws {
        let loop = try EventLoop()
        loop.start(name: "test.loop")
        let seen = Mutex<(threads: Set<UInt>, order: [Int: [Int]])>(([], [:]))
        DispatchQueue.concurrentPerform(iterations: 4) { submitter in
            for index in 0..<1000 {
                loop.execute {
                    seen.withLock {
                        $0.threads.insert(UInt(pthread_self()))
                        $0.order[submitter, default: []].append(index)
                    }
                }
            }
        }
        loop.drain()
        loop.stop()
        loop.stop()  // a second stop returns at once
        let result = seen.withLock { $0 }
        #expect(result.threads.count == 1)
        #expect(!result.threads.contains(UInt(pthread_self())))
        for submitter in 0..<4 { #expect(result.order[submitter] == Array(0..<1000)) }
    }

    /// A client resets its connection while the server has stopped reading it (the handler is not
    /// consuming the body). epoll reports the reset even with no interest set; the connection must
    /// close and the handler's next read must fail, not spin or wait forever.
    @Test func resetWhileReadingIsSuspendedClosesTheConnection() throws {
        let release = DispatchSemaphore(value: 0)
        let outcome = Mutex<String?>(nil)
        var router = Router()
        router.add(.post, "/stall", bodyLimit: 1 << 30) { _, body in
            _ = try body.read()
            release.wait()  // the buffer fills and the server suspends reading meanwhile
            do {
                while try body.read() != nil {}
                outcome.withLock { $0 = "complete" }
            } catch {
                outcome.withLock { $0 = "failed" }
            }
            return .text(200, "done")
        }
        let server = HTTPServer(port: 0, responder: router)
        try server.start()
        defer { server.shutdown(deadline: 1) }

        let client = try RawClient(port: server.port)
        client.send("POST /stall HTTP/1.1\r\nContent-Length: \(64 << 20)\r\n\r\n")
        client.send([UInt8](repeating: 1, count: 3 << 20))
        Thread.sleep(forTimeInterval: 0.2)
        #expect(server.connectionCount == 1)
        client.reset()

        let end = Date().addingTimeInterval(5)
        while server.connectionCount > 0 && Date() < end { Thread.sleep(forTimeInterval: 0.01) }
        #expect(server.connectionCount == 0)
        release.signal()
        let wait = Date().addingTimeInterval(5)
        while outcome.withLock({ $0 }) == nil && Date() < wait { Thread.sleep(forTimeInterval: 0.01) }
        #expect(outcome.withLock { $0 } == "failed")
    }

    /// A client that pipelines without reading while a slow handler runs: the server stops reading
    /// once `maxPipelinedBytes` are buffered, so the client's sends stall (EAGAIN) after that plus
    /// the socket buffers, instead of the server holding everything it is sent.
    @Test func pipelinedInputIsBoundedWhileAHandlerRuns() throws {
        let release = DispatchSemaphore(value: 0)
        var router = Router()
        router.add(.get, "/slow") { _, _ in
            release.wait()
            return .text(200, "slow")
        }
        let server = HTTPServer(port: 0, responder: router)
        try server.start()
        defer { server.shutdown(deadline: 1) }

        let client = try RawClient(port: server.port, timeout: 10)
        client.send("GET /slow HTTP/1.1\r\n\r\n")
        _ = fcntl(client.fd, F_SETFL, fcntl(client.fd, F_GETFL) | O_NONBLOCK)
        let piece = [UInt8]("GET /slow HTTP/1.1\r\n\r\n".utf8) + [UInt8](repeating: 0x20, count: 65_536)
        var sent = 0
        var stalls = 0
        while sent < 64 << 20 && stalls < 50 {
            let n = piece.withUnsafeBytes { write(client.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                sent += n
                stalls = 0
            } else {
                stalls += 1  // EAGAIN: give the server time to read more, if it would
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        // 1 MiB buffered plus the loopback socket buffers (a few MiB each way) at most.
        #expect(sent < 24 << 20, "the server kept reading: \(sent >> 20) MiB accepted")
        _ = fcntl(client.fd, F_SETFL, fcntl(client.fd, F_GETFL) & ~O_NONBLOCK)
        release.signal()
        let first = client.readResponse()
        #expect(first?.status == 200 && first.map { String(decoding: $0.body, as: UTF8.self) } == "slow")
        // The spaces after the first pipelined head are not a request: the connection is answered
        // with an error and closed, never left hanging.
        for _ in 0..<4 { release.signal() }
    }

    /// A client that reads slowly through a small receive buffer: the server's writes hit EAGAIN,
    /// the loop waits for the socket to be writable, and every byte arrives in order.
    @Test func slowReaderGetsTheWholeFile() throws {
        let server = try makeServer()
        defer { server.shutdown(deadline: 1) }
        let client = try RawClient(port: server.port, timeout: 10, receiveBuffer: 4096)
        client.send("GET /file HTTP/1.1\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.3)
        let response = try #require(client.readResponse())
        #expect(response.status == 200)
        let expected = try Data(contentsOf: URL(fileURLWithPath: testFile))
        #expect(response.body == [UInt8](expected))
        client.send("GET /quick HTTP/1.1\r\n\r\n")  // and the connection goes on
        #expect(client.readResponse()?.status == 200)
    }
}
