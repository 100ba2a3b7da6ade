import CEpoll
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What an event loop tells about a registered descriptor.
protocol EventLoopHandler: AnyObject {
    /// `events` is epoll's mask for the descriptor (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP).
    func handle(events: UInt32)
}

/// One thread blocked in `epoll_wait` that serves its connections' ready descriptors in place.
///
/// Why not a Dispatch read source per connection (the first design): every source event went from
/// Dispatch's manager thread to the serial queue's worker thread and re-armed the descriptor with
/// `epoll_ctl`. Under 64 polling clients that was 1.4 context switches and 1.2 `epoll_ctl` calls
/// per request, a third of the server's CPU (docs/BENCHMARKS.md). Here a descriptor is registered
/// once, level-triggered, and its interest changes only for backpressure and pending output; one
/// `epoll_wait` returns every connection that is ready and each is served without a hand-off.
///
/// Everything registered with a loop is touched only on the loop's thread. Other threads hand
/// work over with `execute`, which wakes the loop through an eventfd.
final class EventLoop: @unchecked Sendable {
    static let readable = UInt32(CEPOLL_IN)
    static let writable = UInt32(CEPOLL_OUT)
    static let failed = UInt32(CEPOLL_ERR | CEPOLL_HUP)

    /// Reused by every connection of this loop for `read`: they never read at the same time, and
    /// memory does not grow with idle connections.
    let readBuffer: UnsafeMutableRawBufferPointer
    private let epollFD: Int32
    private let wakeFD: Int32
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let stopping = Atomic<Bool>(false)
    private let exited = DispatchSemaphore(value: 0)
    /// Loop thread only.
    private var handlers: [Int32: any EventLoopHandler] = [:]

    init(readBufferBytes: Int = 256 * 1024) throws {
        let epollFD = cepoll_create()
        guard epollFD >= 0 else { throw Socket.Failure(call: "epoll_create1", code: errno) }
        let wakeFD = cepoll_eventfd()
        guard wakeFD >= 0 else {
            let code = errno
            Glibc.close(epollFD)
            throw Socket.Failure(call: "eventfd", code: code)
        }
        guard cepoll_add(epollFD, wakeFD, Self.readable) == 0 else {
            let code = errno
            Glibc.close(wakeFD)
            Glibc.close(epollFD)
            throw Socket.Failure(call: "epoll_ctl", code: code)
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readBufferBytes, alignment: 64)
    }

    deinit {
        Glibc.close(wakeFD)
        Glibc.close(epollFD)
        readBuffer.deallocate()
    }

    /// Starts the loop's thread.
    func start(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Runs `task` on the loop's thread, after the events being served now.
    func execute(_ task: @escaping @Sendable () -> Void) {
        let wasEmpty = tasks.withLock { list in
            list.append(task)
            return list.count == 1
        }
        // One wake-up per batch of tasks: the loop takes the whole list when it wakes.
        if wasEmpty { wake() }
    }

    /// Waits until every task handed over so far has run.
    func drain() {
        let done = DispatchSemaphore(value: 0)
        execute { done.signal() }
        done.wait()
    }

    /// Ends the loop's thread after its pending tasks; returns once it has exited. Tasks handed
    /// over later never run. A second call returns at once.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake()
        exited.wait()
        // The thread is gone: drop what it would have served, so no closure or handler keeps this
        // loop (and its two descriptors) alive through a reference back to it.
        handlers.removeAll()
        tasks.withLock { $0.removeAll() }
    }

    // MARK: - Registration (loop thread only)

    func register(_ fd: Int32, events: UInt32, handler: any EventLoopHandler) -> Bool {
        guard cepoll_add(epollFD, fd, events) == 0 else { return false }
        handlers[fd] = handler
        return true
    }

    func modify(_ fd: Int32, events: UInt32) {
        _ = cepoll_modify(epollFD, fd, events)
    }

    /// Forgets `fd`; the caller closes it afterwards.
    func deregister(_ fd: Int32) {
        _ = cepoll_delete(epollFD, fd)
        handlers[fd] = nil
    }

    // MARK: - The loop

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    private func run() {
        let capacity = 256
        let fds = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        defer {
            fds.deallocate()
            events.deallocate()
            exited.signal()
        }
        while true {
            let count = cepoll_wait(epollFD, fds, events, Int32(capacity), -1)
            if count < 0 && errno != EINTR { return }
            for index in 0..<Swift.max(0, Int(count)) {
                let fd = fds[index]
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = Glibc.read(wakeFD, &value, 8)
                } else {
                    handlers[fd]?.handle(events: events[index])
                }
            }
            runTasks()
            if stopping.load(ordering: .acquiring) {
                runTasks()
                return
            }
        }
    }

    private func runTasks() {
        let batch = tasks.withLock { list -> [@Sendable () -> Void] in
            var taken: [@Sendable () -> Void] = []
            swap(&taken, &list)
            return taken
        }
        for task in batch { task() }
    }
}
