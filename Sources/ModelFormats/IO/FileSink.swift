import Digest
import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A buffered, append-only writer on a POSIX file descriptor. Writers stream through it, so memory
/// stays at two buffers however large the file grows.
///
/// A full buffer is written by a background thread while the caller fills the other one: the
/// `write` system calls (copying into the page cache) overlap the caller's next chunk of work
/// instead of stalling it. At most one write is in flight; its failure is thrown by the next
/// `write`, `flush` or `close`, so the file is never reported complete when a write failed.
final class FileSink {
    let path: String
    private var buffer: UnsafeMutableRawBufferPointer
    private var spare: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private let background: BackgroundWrites
    private(set) var bytesWritten = 0

    /// Writes at least this large skip the buffers (after the ones in flight): copying them would
    /// cost more than the overlap gains.
    static let directWriteBytes = 8 << 20

    /// With `hashing`, every byte is also fed to SHA-256 as it is written (on the background
    /// thread), so that a caller needing the file's digest need not read it back.
    init(path: String, bufferSize: Int = 1 << 20, hashing: Bool = false) throws {
        self.path = path
        let fd = try POSIX.call("open", path: path) {
            open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        background = BackgroundWrites(fd: fd, path: path, hasher: hashing ? SHA256() : nil)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
        spare = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
    }

    deinit {
        // The background thread may still be writing from `spare`.
        _ = try? background.wait()
        buffer.deallocate()
        spare.deallocate()
        if background.fd >= 0 { Glibc.close(background.fd) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= Self.directWriteBytes {
            try flush()
            try background.wait()
            try background.writeAll(bytes)
        } else {
            var rest = bytes
            while !rest.isEmpty {
                if buffered == buffer.count { try flush() }
                let take = Swift.min(rest.count, buffer.count - buffered)
                UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<(buffered + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
                buffered += take
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            }
        }
        bytesWritten += bytes.count
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Hands the filled buffer to the background thread (after the previous one is written) and
    /// continues in the other buffer.
    func flush() throws {
        guard buffered > 0 else { return }
        try background.wait()
        background.start(UnsafeRawBufferPointer(rebasing: buffer[0..<buffered]))
        swap(&buffer, &spare)
        buffered = 0
    }

    /// Flushes, waits for the last write, optionally fsyncs, and closes. The file is complete on
    /// disk only after this returns.
    func close(sync: Bool) throws {
        try flush()
        try background.wait()
        let fd = background.fd
        if sync { _ = try POSIX.call("fsync", path: path) { fsync(fd) } }
        background.fd = -1
        _ = try POSIX.call("close", path: path) { Glibc.close(fd) }
        sha256 = background.hasher.map { hasher in
            var final = hasher
            return SHA256.hex(final.finalize())
        }
    }

    /// The hex SHA-256 of everything written, once `close` has returned (when hashing).
    private(set) var sha256: String?
}

/// The one write in flight and its outcome. `start` and `wait` are called from the sink's thread
/// only; the semaphore orders the background thread's result before `wait` reads it.
private final class BackgroundWrites: @unchecked Sendable {
    var fd: Int32
    let path: String
    private let queue = DispatchQueue(label: "quantservice.file-sink")
    private let finished = DispatchSemaphore(value: 0)
    private var inFlight = false
    private var failure: Error?
    /// Fed in file order: writes run one at a time, on the queue or after `wait`.
    var hasher: SHA256?

    init(fd: Int32, path: String, hasher: SHA256?) {
        self.fd = fd
        self.path = path
        self.hasher = hasher
    }

    /// `bytes` must stay untouched until `wait` returns.
    func start(_ bytes: UnsafeRawBufferPointer) {
        inFlight = true
        let address = UInt(bitPattern: bytes.baseAddress)
        let count = bytes.count
        queue.async {
            let pending = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: count)
            do { try self.writeAll(pending) } catch { self.failure = error }
            self.finished.signal()
        }
    }

    /// Waits for the write in flight, then throws its failure (and every later call does too).
    func wait() throws {
        if inFlight {
            finished.wait()
            inFlight = false
        }
        if let failure { throw failure }
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        hasher?.update(bytes)
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let written = try POSIX.call("write", path: path) { Glibc.write(fd, rest.baseAddress, rest.count) }
            offset += written
        }
    }
}
