#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization

/// A generic HTTP/1.1 server on POSIX sockets and Dispatch: one read source per connection, a
/// write source only while output is pending, no thread per connection. It knows nothing of
/// quantization; an `HTTPResponder` answers requests.
public final class HTTPServer: Sendable {
    public let host: String
    public let limits: HTTPLimits
    let responder: any HTTPResponder
    let handlerQueue = DispatchQueue(label: "http.handlers", qos: .userInitiated, attributes: .concurrent)
    /// Connections are spread over a few serial queues (not one thread each).
    let connectionQueues: [DispatchQueue]
    /// One 256 KiB read buffer per connection queue: memory does not grow with idle connections.
    nonisolated(unsafe) let readBuffers: [UnsafeMutableRawBufferPointer]
    private let state = Mutex(ServerState())
    private let requestedPort: Int

    struct ServerState {
        var listenFD: Int32 = -1
        var port = 0
        var connections: [ObjectIdentifier: Connection] = [:]
        var accepting = false
        var nextQueue = 0
    }

    nonisolated(unsafe) private var acceptSource: DispatchSourceRead?
    nonisolated(unsafe) private var sweepTimer: DispatchSourceTimer?

    public init(host: String = "127.0.0.1", port: Int, limits: HTTPLimits = HTTPLimits(), responder: any HTTPResponder) {
        self.host = host
        requestedPort = port
        self.limits = limits
        self.responder = responder
        connectionQueues = (0..<Swift.max(2, ProcessInfo.processInfo.activeProcessorCount)).map {
            DispatchQueue(label: "http.connections.\($0)", qos: .userInitiated)
        }
        readBuffers = connectionQueues.map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 64) }
    }

    deinit { for buffer in readBuffers { buffer.deallocate() } }

    /// The bound port (after `start`).
    public var port: Int { state.withLock { $0.port } }

    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Binds, listens and starts accepting. Returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        let (fd, port) = try Socket.listen(host: host, port: requestedPort)
        state.withLock {
            $0.listenFD = fd
            $0.port = port
            $0.accepting = true
        }
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "http.accept", qos: .userInitiated))
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
                connection.queue.async { connection.close() }
            }
            if busy.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        for connection in state.withLock({ Array($0.connections.values) }) { connection.queue.async { connection.close() } }
        sweepTimer?.cancel()
        // Give the close blocks a moment to run.
        for queue in connectionQueues { queue.sync {} }
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
            let (accepting, count, queueIndex) = state.withLock { s -> (Bool, Int, Int) in
                s.nextQueue = (s.nextQueue + 1) % connectionQueues.count
                return (s.accepting, s.connections.count, s.nextQueue)
            }
            guard accepting, count < limits.maxConnections else {
                close(fd)
                continue
            }
            Socket.noDelay(fd)
            let connection = Connection(fd: fd, server: self, queue: connectionQueues[queueIndex], readBuffer: readBuffers[queueIndex])
            state.withLock { $0.connections[ObjectIdentifier(connection)] = connection }
            connection.queue.async { connection.start() }
        }
    }

    func remove(_ connection: Connection) {
        state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    private func sweep() {
        let now = DispatchTime.now().uptimeNanoseconds
        for connection in state.withLock({ Array($0.connections.values) }) {
            connection.queue.async { connection.checkTimeouts(now: now) }
        }
    }
}
