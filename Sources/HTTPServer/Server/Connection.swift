import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One client connection. All of its state is touched only on its event loop's thread; handlers
/// run on the server's handler queue and come back to the loop with their response.
final class Connection: EventLoopHandler, @unchecked Sendable {
    enum Phase {
        /// Waiting for (more of) a request head. `since` is when its first byte came (nil: idle).
        case head(since: UInt64?)
        /// A handler is running; the body (if any) is still arriving.
        case handling
        /// Writing a response.
        case responding
        case closed
    }

    let fd: Int32
    /// Strong: a connection may outlive the last outside reference to its server while it closes.
    let server: HTTPServer
    let loop: EventLoop
    private var registered = false
    /// What the loop watches for: readable unless reading is suspended (backpressure, or a response
    /// being written), writable only while output waits for the socket.
    private var readSuspended = false
    private var awaitingWritable = false
    private var interest: UInt32 = EventLoop.readable

    private var phase = Phase.head(since: nil)
    /// Received bytes not yet consumed.
    private var input: [UInt8] = []
    /// Where the search for the end of the head resumes.
    private var headScan = 0
    private var lastActivity = DispatchTime.now().uptimeNanoseconds

    // Body framing of the current request.
    private var body: RequestBody?
    private var bodyRemaining: Int64 = 0
    private var chunked: ChunkedDecoder?
    private var bodyLimit: Int64 = 0
    private var bodyReceived: Int64 = 0
    private var keepAlive = true

    // Output.
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var file: (handle: FileHandle, remaining: Int64)?
    private var closeAfterWrite = false

    /// For shutdown: readable from other threads.
    private let idle = Atomic<Bool>(true)
    var isIdleSnapshot: Bool { idle.load(ordering: .relaxed) }

    init(fd: Int32, server: HTTPServer, loop: EventLoop) {
        self.fd = fd
        self.server = server
        self.loop = loop
    }

    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    /// On the loop's thread.
    func start() {
        guard loop.register(fd, events: interest, handler: self) else {
            Glibc.close(fd)
            phase = .closed
            server.remove(self)
            return
        }
        registered = true
    }

    func handle(events: UInt32) {
        if events & EventLoop.writable != 0 || (awaitingWritable && events & EventLoop.failed != 0) {
            awaitingWritable = false
            flush()
        }
        if events & (EventLoop.readable | EventLoop.failed) != 0 && !isClosed {
            // A reset or hang-up while reading is suspended: nothing more can come or go.
            if readSuspended && events & EventLoop.failed != 0 { return peerClosed() }
            if !readSuspended { readAvailable() }
        }
        updateInterest()
    }

    /// Tells the loop what to watch for, when that changed.
    private func updateInterest() {
        guard registered, !isClosed else { return }
        let wanted = (readSuspended ? 0 : EventLoop.readable) | (awaitingWritable ? EventLoop.writable : 0)
        if wanted != interest {
            interest = wanted
            loop.modify(fd, events: wanted)
        }
    }

    // MARK: - Reading

    private func readAvailable() {
        let buffer = loop.readBuffer
        while !isClosed {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                lastActivity = DispatchTime.now().uptimeNanoseconds
                input.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                process()
                if input.count > server.limits.maxPipelinedBytes && !consumesInput { suspendReading() }
                if readSuspended { return }
                if count < buffer.count { return }
            } else if count == 0 {
                peerClosed()
                return
            } else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                close()
                return
            }
        }
    }

    /// Whether the current phase takes input as it comes: a head being parsed, or a body being
    /// fed to its handler (which has its own backpressure). Otherwise input is pipelined requests
    /// waiting for the current one to finish.
    private var consumesInput: Bool {
        switch phase {
        case .head: return true
        case .handling: return body.map { !$0.isComplete } ?? false
        case .responding, .closed: return false
        }
    }

    private func peerClosed() {
        if case .handling = phase, let body, !body.isComplete {
            body.fail("the client closed the connection before the body was complete")
        }
        close()
    }

    /// Consumes buffered input according to the phase.
    private func process() {
        switch phase {
        case .head(let since):
            if since == nil && !input.isEmpty { phase = .head(since: DispatchTime.now().uptimeNanoseconds) }
            parseHead()
        case .handling:
            feedBody()
        case .responding, .closed:
            break  // pipelined bytes wait until the response is written
        }
    }

    private func parseHead() {
        let limits = server.limits
        // A TLS ClientHello (a handshake record, 0x16 0x03 ...) on this plain-HTTP port: say so.
        if input.count >= 2, input[0] == 0x16, input[1] == 0x03 {
            return reject(
                HTTPError(
                    400, "this port speaks plain HTTP, not TLS: use http:// (or put a TLS proxy in front)",
                    type: "tls-on-plain-port"))
        }
        // A request line over the limit is 414 whether or not the rest of the head has arrived.
        if !input.prefix(limits.maxRequestLine + 2).contains(0x0A) && input.count > limits.maxRequestLine {
            return reject(HTTPError(414, "the request line is longer than \(limits.maxRequestLine) bytes"))
        }
        guard let end = findHeadEnd() else {
            // Not complete yet: enforce the limit on what has come so far.
            if input.count > limits.maxHeaderBytes {
                return reject(HTTPError(431, "the request head is larger than \(limits.maxHeaderBytes) bytes"))
            }
            return
        }
        guard end <= limits.maxHeaderBytes else {
            return reject(HTTPError(431, "the request head is larger than \(limits.maxHeaderBytes) bytes"))
        }
        let head = input[0..<end]
        let request: HTTPRequest
        let framing: RequestHeadParser.Framing
        do {
            request = try RequestHeadParser.parse(head, limits: limits)
            framing = try RequestHeadParser.framing(of: request, limits: limits)
        } catch let failure as RequestHeadParser.Failure {
            return reject(HTTPError(failure.status, failure.detail, type: "malformed-request"))
        } catch {
            return reject(HTTPError(400, "malformed request"))
        }
        input.removeFirst(end + 4)
        headScan = 0
        begin(request, framing: framing)
    }

    private func findHeadEnd() -> Int? {
        guard input.count >= 4 else { return nil }
        var i = Swift.max(0, headScan - 3)
        while i + 3 < input.count {
            if input[i] == 0x0D && input[i + 1] == 0x0A && input[i + 2] == 0x0D && input[i + 3] == 0x0A { return i }
            i += 1
        }
        headScan = input.count
        return nil
    }

    private func begin(_ parsed: HTTPRequest, framing: RequestHeadParser.Framing) {
        var prepared = parsed
        server.responder.prepare(&prepared)
        let request = prepared
        keepAlive = request.keepAlive
        bodyLimit = server.responder.bodyLimit(for: request)
        bodyReceived = 0
        switch framing {
        case .length(let length) where length > bodyLimit:
            return reject(HTTPError(413, "the body of \(length) bytes exceeds the limit of \(bodyLimit) bytes for this route"))
        case .length(let length):
            bodyRemaining = length
            chunked = nil
        case .chunked:
            bodyRemaining = 0
            chunked = ChunkedDecoder(maxDigits: server.limits.maxChunkSizeDigits)
        case .none:
            bodyRemaining = 0
            chunked = nil
        }
        let hasBody = framing != .none
        if hasBody, request.header("expect")?.lowercased() == "100-continue" {
            if let refusal = server.responder.preflight(request) {
                return respond(refusal, close: true)
            }
            writeRaw(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        let requestBody: RequestBody
        if hasBody {
            requestBody = RequestBody(declaredLength: { if case .length(let n) = framing { return n } else { return nil } }()) {
                [weak self] in
                guard let self else { return }
                self.loop.execute { self.resumeReading() }
            }
        } else {
            requestBody = RequestBody.empty()
        }
        body = requestBody
        phase = .handling
        idle.store(false, ordering: .relaxed)
        let responder = server.responder
        let run: @Sendable () -> HTTPResponse = {
            var response: HTTPResponse
            do {
                response = try responder.respond(to: request, body: requestBody)
            } catch let error as HTTPError {
                response = error.response
            } catch {
                response = HTTPError(500, "the server failed to answer this request").response
            }
            if request.method == .head { response.body = .empty }
            return response
        }
        if !hasBody && responder.runsInline(request) {
            handlerFinished(run(), head: request.method == .head)
            return
        }
        server.handlerQueue.async { [self] in
            let final = run()
            loop.execute { self.handlerFinished(final, head: request.method == .head) }
        }
        if hasBody { feedBody() }
    }

    /// Moves body bytes from `input` into the request body, in order, with backpressure.
    private func feedBody() {
        guard let body, !body.isComplete else { return }
        if let decoder = chunked {
            var decoder = decoder
            var out: [UInt8] = []
            do {
                let used = try input.withUnsafeBytes { try decoder.feed($0, from: 0, into: &out) }
                input.removeFirst(used)
            } catch let failure as ChunkedDecoder.Failure {
                chunked = decoder
                body.fail(failure.detail)
                closeAfterWrite = true
                return
            } catch {}
            chunked = decoder
            bodyReceived += Int64(out.count)
            if bodyReceived > bodyLimit {
                body.fail("the body exceeds the limit of \(bodyLimit) bytes for this route", status: 413)
                closeAfterWrite = true
                return
            }
            body.push(out)
            if decoder.isDone { body.finish() }
        } else {
            let take = Int(Swift.min(Int64(input.count), bodyRemaining))
            if take == input.count && take > 0 {
                // The common case in large uploads: hand the whole buffer over without copying it.
                var chunk: [UInt8] = []
                swap(&chunk, &input)
                body.push(chunk)
                bodyRemaining -= Int64(take)
                bodyReceived += Int64(take)
            } else if take > 0 {
                body.push(Array(input[0..<take]))
                input.removeFirst(take)
                bodyRemaining -= Int64(take)
                bodyReceived += Int64(take)
            }
            if bodyRemaining == 0 { body.finish() }
        }
        if body.isFull { suspendReading() }
    }

    private func handlerFinished(_ response: HTTPResponse, head: Bool) {
        guard case .handling = phase else { return }
        // A body the handler did not wait for may still be arriving: never parse it as a request.
        if let body, !body.isComplete {
            closeAfterWrite = true
            body.fail("the response was sent before the body was read")
        }
        respond(response, close: closeAfterWrite || !keepAlive, headOnly: head)
    }

    // MARK: - Writing

    private func respond(_ response: HTTPResponse, close shouldClose: Bool, headOnly: Bool = false) {
        phase = .responding
        closeAfterWrite = shouldClose
        idle.store(false, ordering: .relaxed)
        var bytes = response.head(keepAlive: !shouldClose)
        switch response.body {
        case .empty: break
        case .bytes(let payload): if !headOnly { bytes += payload }
        case .file(let path, let range):
            if !headOnly, let handle = FileHandle(forReadingAtPath: path) {
                try? handle.seek(toOffset: UInt64(range.lowerBound))
                file = (handle, range.upperBound - range.lowerBound)
            }
        }
        output = bytes
        outputOffset = 0
        flush()
    }

    /// Writes raw bytes ahead of a response (100 Continue).
    private func writeRaw(_ bytes: [UInt8]) {
        output += bytes
        flush()
    }

    private func flush() {
        while true {
            if outputOffset == output.count {
                output.removeAll(keepingCapacity: true)
                outputOffset = 0
                if !refillFromFile() { break }
            }
            let written = output.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + outputOffset, output.count - outputOffset) }
            if written >= 0 {
                outputOffset += written
                lastActivity = DispatchTime.now().uptimeNanoseconds
                continue
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                waitForWritable()
                return
            }
            close()
            return
        }
        if case .responding = phase { responseWritten() }
    }

    /// Loads the next piece of a file body into the output buffer; false when there is none.
    private func refillFromFile() -> Bool {
        guard let (handle, remaining) = file, remaining > 0 else {
            if let (handle, _) = file { try? handle.close() }
            file = nil
            return false
        }
        let data = handle.readData(ofLength: Int(Swift.min(remaining, 1 << 20)))
        if data.isEmpty {
            // The file shrank under us: the declared length cannot be honoured; close.
            try? handle.close()
            file = nil
            closeAfterWrite = true
            return false
        }
        output = Array(data)
        outputOffset = 0
        file = (handle, remaining - Int64(data.count))
        return true
    }

    private func waitForWritable() {
        awaitingWritable = true
        updateInterest()
    }

    private func responseWritten() {
        if closeAfterWrite { return close() }
        body = nil
        phase = .head(since: nil)
        idle.store(true, ordering: .relaxed)
        resumeReading()
        // Pipelined requests that arrived meanwhile: in a new block, not by recursion, so thousands
        // of requests in one packet cannot grow the stack.
        if !input.isEmpty { loop.execute { [self] in if case .head = phase { process() } } }
    }

    // MARK: - Errors, backpressure, timeouts, closing

    /// Answers a malformed or refused request and closes: the rest of the input is not trusted.
    private func reject(_ error: HTTPError) {
        suspendReading()
        respond(error.response, close: true)
    }

    private func suspendReading() {
        guard !readSuspended else { return }
        readSuspended = true
        updateInterest()
    }

    private func resumeReading() {
        guard readSuspended else { return }
        if case .closed = phase { return }
        readSuspended = false
        updateInterest()
        if case .handling = phase, !input.isEmpty { feedBody() }
    }

    func checkTimeouts(now _: UInt64) {
        let limits = server.limits
        // Read the clock here, on the connection's loop: a time taken by the sweeper before this
        // block ran can be older than this connection's latest activity.
        let now = DispatchTime.now().uptimeNanoseconds
        func elapsed(_ since: UInt64) -> Double { since >= now ? 0 : Double(now - since) / 1e9 }
        switch phase {
        case .head(let since?):
            if elapsed(since) > limits.headerTimeout {
                reject(HTTPError(408, "the request head took longer than \(Int(limits.headerTimeout)) s"))
            }
        case .head(nil):
            if elapsed(lastActivity) > limits.keepAliveTimeout { close() }
        case .handling:
            if let body, !body.isComplete, !readSuspended, elapsed(lastActivity) > limits.bodyIdleTimeout {
                body.fail("no body data for \(Int(limits.bodyIdleTimeout)) s")
                closeAfterWrite = true
                respondTimeout()
            }
        case .responding:
            if elapsed(lastActivity) > limits.keepAliveTimeout { close() }
        case .closed:
            break
        }
    }

    /// A body stalled: answer 408 now (the handler's later answer is dropped) and close.
    private func respondTimeout() {
        respond(
            HTTPError(408, "the request body stalled for more than \(Int(server.limits.bodyIdleTimeout)) s").response, close: true
        )
    }

    func close() {
        if case .closed = phase { return }
        phase = .closed
        idle.store(true, ordering: .relaxed)
        body?.fail("the connection closed")
        if let (handle, _) = file { try? handle.close() }
        file = nil
        if registered {
            registered = false
            loop.deregister(fd)
            Glibc.close(fd)
        }
        server.remove(self)
    }
}
