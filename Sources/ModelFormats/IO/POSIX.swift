import Foundation

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
    /// Whether an error means the disk, the quota or the file size limit is full: ours
    /// (`FormatError.noSpace`) or Foundation's (a FileHandle or FileManager write).
    public static func isNoSpace(_ error: any Error) -> Bool {
        if let format = error as? FormatError { return format.code == .noSpace }
        let ns = error as NSError
        let underlying = (ns.userInfo[NSUnderlyingErrorKey] as? NSError) ?? ns
        if ns.domain == NSCocoaErrorDomain, ns.code == CocoaError.fileWriteOutOfSpace.rawValue { return true }
        return underlying.domain == NSPOSIXErrorDomain && [Int(ENOSPC), Int(EDQUOT), Int(EFBIG)].contains(underlying.code)
    }

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
            let full = code == ENOSPC || code == EDQUOT || code == EFBIG
            throw FormatError(full ? .noSpace : .io, "\(name)(\(path)) failed: \(String(cString: strerror(code)))")
        }
    }
}
