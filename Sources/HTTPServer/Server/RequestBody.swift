import Dispatch
import Synchronization

/// A request body delivered in chunks as the connection reads them. `read()` blocks the handler's
/// thread until data arrives; when a megabyte is buffered the connection stops reading from the
/// socket until the handler catches up, so a 10 GiB upload never sits in memory.
public final class RequestBody: Sendable {
    struct State {
        var chunks: [[UInt8]] = []
        var buffered = 0
        var finished = false
        var failure: (status: Int, reason: String)?
        var consumedAll = false
    }

    /// Bytes declared by Content-Length (nil for chunked or no body).
    public let declaredLength: Int64?
    let highWater: Int
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    /// Called (on any thread) when the buffer drains below the high-water mark.
    let onDrain: @Sendable () -> Void

    init(declaredLength: Int64?, highWater: Int = 1 << 20, onDrain: @escaping @Sendable () -> Void) {
        self.declaredLength = declaredLength
        self.highWater = highWater
        self.onDrain = onDrain
    }

    static func empty() -> RequestBody {
        let body = RequestBody(declaredLength: 0, onDrain: {})
        body.finish()
        return body
    }

    /// The next chunk, or nil at the end. Throws if the client went away or timed out mid-body.
    public func read() throws -> [UInt8]? {
        while true {
            let (chunk, drained, done, failure): ([UInt8]?, Bool, Bool, (status: Int, reason: String)?) = state.withLock { s in
                if let failure = s.failure { return (nil, false, false, failure) }
                if !s.chunks.isEmpty {
                    let chunk = s.chunks.removeFirst()
                    let wasFull = s.buffered >= highWater
                    s.buffered -= chunk.count
                    return (chunk, wasFull && s.buffered < highWater, false, nil)
                }
                if s.finished {
                    s.consumedAll = true
                    return (nil, false, true, nil)
                }
                return (nil, false, false, nil)
            }
            if let failure {
                throw HTTPError(
                    failure.status, failure.reason, type: failure.status == 413 ? "body-too-large" : "incomplete-body")
            }
            if drained { onDrain() }
            if let chunk { return chunk }
            if done { return nil }
            available.wait()
        }
    }

    /// Reads the whole body into memory, failing past `limit` bytes (for small JSON bodies).
    public func collect(limit: Int) throws -> [UInt8] {
        var all: [UInt8] = []
        while let chunk = try read() {
            all += chunk
            if all.count > limit { throw HTTPError(413, "the body is larger than \(limit) bytes") }
        }
        return all
    }

    var isFull: Bool { state.withLock { $0.buffered >= highWater } }
    var isComplete: Bool { state.withLock { $0.finished } }

    func push(_ chunk: [UInt8]) {
        guard !chunk.isEmpty else { return }
        state.withLock {
            $0.chunks.append(chunk)
            $0.buffered += chunk.count
        }
        available.signal()
    }

    func finish() {
        state.withLock { $0.finished = true }
        available.signal()
    }

    func fail(_ reason: String, status: Int = 400) {
        state.withLock { if !$0.finished { $0.failure = (status, reason) } }
        available.signal()
    }
}
