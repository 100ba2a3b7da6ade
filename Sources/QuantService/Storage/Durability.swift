import Digest
import Foundation
import ModelFormats

#if canImport(Glibc)
    import Glibc
#endif

/// fsync and free-space helpers: the steps that make "renamed into place" mean "on disk".
enum Durability {
    /// fsyncs a file or a directory (a directory fsync makes a rename in it durable).
    static func sync(_ path: String) throws {
        do { try POSIX.sync(path: path) } catch let error as FormatError where error.code != .noSpace {
            throw ServiceError.io(error.message)
        }
    }

    /// Bytes available to unprivileged writers on the filesystem holding `path`.
    static func freeBytes(_ path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// SHA-256 of a file, read in 1 MiB pieces.
    static func sha256(of path: String) throws -> (hex: String, size: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ServiceError.io("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = QuantStoreSHA256()
        var size: Int64 = 0
        while true {
            let data = handle.readData(ofLength: 1 << 20)
            if data.isEmpty { break }
            size += Int64(data.count)
            data.withUnsafeBytes { hasher.update($0) }
        }
        return (QuantStoreSHA256.hex(hasher.finalize()), size)
    }
}

/// Errors of the service layer.
public enum ServiceError: Error, Equatable, CustomStringConvertible, Sendable {
    case io(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .io(let message): message
        case .invalid(let message): message
        }
    }
}
