#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered, append-only writer on a POSIX file descriptor. Writers stream through it, so memory
/// stays at one buffer however large the file grows.
final class FileSink {
    let path: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private(set) var bytesWritten = 0

    init(path: String, bufferSize: Int = 1 << 20) throws {
        self.path = path
        fd = try POSIX.call("open", path: path) {
            open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
    }

    deinit {
        buffer.deallocate()
        if fd >= 0 { Glibc.close(fd) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= buffer.count {
            try flush()
            try writeAll(bytes)
        } else {
            if buffered + bytes.count > buffer.count { try flush() }
            UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<(buffered + bytes.count)]).copyMemory(from: bytes)
            buffered += bytes.count
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

    func flush() throws {
        guard buffered > 0 else { return }
        try writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<buffered]))
        buffered = 0
    }

    /// Flushes, optionally fsyncs, and closes. The file is complete on disk only after this returns.
    func close(sync: Bool) throws {
        try flush()
        if sync { _ = try POSIX.call("fsync", path: path) { fsync(fd) } }
        let descriptor = fd
        fd = -1
        _ = try POSIX.call("close", path: path) { Glibc.close(descriptor) }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let written = try POSIX.call("write", path: path) { Glibc.write(fd, rest.baseAddress, rest.count) }
            offset += written
        }
    }
}
