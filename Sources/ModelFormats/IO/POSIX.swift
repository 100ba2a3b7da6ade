#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every syscall goes through here: EINTR is retried and a failure becomes a thrown `io` error that
/// names the call and the path, never a silently ignored return code.
public enum POSIX {
    /// fsyncs a file or a directory (a directory fsync makes a rename in it durable).
    public static func sync(path: String) throws {
        let fd = try call("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        _ = try call("fsync", path: path) { fsync(fd) }
    }

    static func call<T: BinaryInteger>(_ name: String, path: String, _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw FormatError(.io, "\(name)(\(path)) failed: \(String(cString: strerror(code)))")
        }
    }
}
