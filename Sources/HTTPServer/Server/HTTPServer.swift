import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A generic HTTP/1.1 server on POSIX sockets, epoll and Dispatch: one event loop thread per core
/// serves the connections' reads and writes (no thread per connection); handlers that may block run
/// on a Dispatch queue. It knows nothing of quantization; an `HTTPResponder` answers requests.
public final class HTTPServer: Sendable {
    public let host: String
    public let limits: HTTPLimits
    let responder: any HTTPResponder
    let handlerQueue = DispatchQueue(label: "http.handlers", qos: .userInitiated, attributes: .concurrent)
    /// Connections are spread over one event loop per core (created by `start`).
    nonisolated(unsafe) private var loops: [EventLoop] = []
    private let state = Mutex(ServerState())
    private let requestedPort: Int

    struct ServerState {
        var listenFD: Int32 = -1
        var port = 0
        var connections: [ObjectIdentifier: Connection] = [:]
        var accepting = false
        var nextLoop = 0
    }

    nonisolated(unsafe) private var acceptSource: DispatchSourceRead?
    nonisolated(unsafe) private var sweepTimer: DispatchSourceTimer?

    public init(host: String = "127.0.0.1", port: Int, limits: HTTPLimits = HTTPLimits(), responder: any HTTPResponder) {
        self.host = host
        requestedPort = port
        self.limits = limits
        self.responder = responder
    }

    /// The bound port (after `start`).
    public var port: Int { state.withLock { $0.port } }

    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Binds, listens and starts accepting. Returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        let loops = try (0..<Swift.max(2, ProcessInfo.processInfo.activeProcessorCount)).map { _ in try EventLoop() }
        let (fd, port) = try Socket.listen(host: host, port: requestedPort)
        for (index, loop) in loops.enumerated() { loop.start(name: "http.loop.\(index)") }
        self.loops = loops
        state.withLock {
            $0.listenFD = fd
            $0.port = port
            $0.accepting = true
        }
        let source = DispatchSource.makeReadSource(
            fileDescriptor: fd, queue: DispatchQueue(label: "http.accept", qos: .userInitiated))
        source.setEventHandler { [self] in acceptAll(fd) }
        source.setCancelHandler { close(fd) }
        acceptSource = source
        source.resume()
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "http.timeouts"))
        timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
        timer.setEventHandler { [self] in sweep() }
        sweepTimer = timer
        timer.resume()
        return port
    }

    /// Stops accepting, lets in-flight requests finish for up to `deadline` seconds, then closes
    /// every connection. Idle keep-alive connections are closed at once.
    public func shutdown(deadline: Double) {
        state.withLock { $0.accepting = false }
        acceptSource?.cancel()
        let end = Date().addingTimeInterval(deadline)
        while Date() < end {
            let busy = state.withLock { $0.connections.values.filter { !$0.isIdleSnapshot } }
            for connection in state.withLock({ Array($0.connections.values) }) where connection.isIdleSnapshot {
                connection.loop.execute { connection.close() }
            }
            if busy.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        for connection in state.withLock({ Array($0.connections.values) }) { connection.loop.execute { connection.close() } }
        sweepTimer?.cancel()
        for loop in loops { loop.stop() }
    }

    private func acceptAll(_ listenFD: Int32) {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return  // EAGAIN: drained; other errors (EMFILE...) wait for the next event
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard (try? Socket.setNonBlocking(fd)) != nil else {
                close(fd)
                continue
            }
            let (accepting, count, loopIndex) = state.withLock { s -> (Bool, Int, Int) in
                s.nextLoop = (s.nextLoop + 1) % loops.count
                return (s.accepting, s.connections.count, s.nextLoop)
            }
            guard accepting, count < limits.maxConnections else {
                close(fd)
                continue
            }
            Socket.noDelay(fd)
            let connection = Connection(fd: fd, server: self, loop: loops[loopIndex])
            state.withLock { $0.connections[ObjectIdentifier(connection)] = connection }
            connection.loop.execute { connection.start() }
        }
    }

    func remove(_ connection: Connection) {
        state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    private func sweep() {
        let now = DispatchTime.now().uptimeNanoseconds
        for connection in state.withLock({ Array($0.connections.values) }) {
            connection.loop.execute { connection.checkTimeouts(now: now) }
        }
    }
}
