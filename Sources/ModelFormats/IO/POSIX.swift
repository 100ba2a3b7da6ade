#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Every syscall goes through here: EINTR is retried and a failure becomes a thrown `io` error that
/// names the call and the path, never a silently ignored return code.
enum POSIX {
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
