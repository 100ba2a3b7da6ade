import Digest
import Foundation
import ModelFormats

/// A Hugging Face folder artifact as one file: a tar of its files with `SHA256SUMS` (each file's
/// hash, `sha256sum -c` format) as the last member, so it is served with Range and an ETag like
/// any artifact and checked file by file where it is unpacked.
enum FolderArchive {
    static let manifestName = "SHA256SUMS"

    /// Writes the archive of `folder` to `path` (fsynced), hashing both each file and the whole;
    /// returns the archive's SHA-256 and size.
    static func pack(folder: String, to path: String) throws -> (sha256: String, size: Int64) {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        guard FileManager.default.createFile(atPath: path, contents: nil), let output = FileHandle(forWritingAtPath: path) else {
            throw ServiceError.io("cannot create \(path)")
        }
        defer { try? output.close() }
        var archive = SHA256()
        var size: Int64 = 0
        func emit(_ bytes: [UInt8]) throws {
            bytes.withUnsafeBytes { archive.update($0) }
            do { try output.write(contentsOf: bytes) } catch {
                throw POSIX.isNoSpace(error)
                    ? FormatError(.noSpace, "writing \(path): \(error.localizedDescription)")
                    : ServiceError.io("writing \(path): \(error.localizedDescription)")
            }
            size += Int64(bytes.count)
        }
        var manifest = ""
        for name in names {
            let file = (folder as NSString).appendingPathComponent(name)
            guard let input = FileHandle(forReadingAtPath: file) else { throw ServiceError.io("cannot read \(file)") }
            defer { try? input.close() }
            let length = try TarStream.size(of: file)
            try emit(TarStream.headers(name: name, size: length))
            var hasher = SHA256()
            var left = length
            while left > 0 {
                guard let chunk = try input.read(upToCount: Swift.min(left, 1 << 20)), !chunk.isEmpty else {
                    throw ServiceError.io("\(file) shrank while it was archived")
                }
                let bytes = [UInt8](chunk)
                bytes.withUnsafeBytes { hasher.update($0) }
                try emit(bytes)
                left -= bytes.count
            }
            try emit([UInt8](repeating: 0, count: TarStream.padded(length) - length))
            manifest += "\(SHA256.hex(hasher.finalize()))  \(name)\n"
        }
        let sums = Array(manifest.utf8)
        try emit(
            TarStream.headers(name: manifestName, size: sums.count) + sums
                + [UInt8](repeating: 0, count: TarStream.padded(sums.count) - sums.count))
        try emit([UInt8](repeating: 0, count: 1024))
        try output.synchronize()
        return (SHA256.hex(archive.finalize()), size)
    }
}
