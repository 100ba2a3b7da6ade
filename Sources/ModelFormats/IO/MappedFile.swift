#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file. Pages are read from disk only when touched, so
/// validating a header or reading one tensor of a 100 GB file costs memory for just those pages.
///
/// The mapping is immutable after `init` and released in `deinit`, which makes sharing it across
/// threads safe.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    /// Kept open for `read(_:into:)`.
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        let fd = try POSIX.call("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        self.fd = fd
        var opened = true
        defer { if !opened { close(fd) } }
        var info = stat()
        _ = try POSIX.call("fstat", path: path) { fstat(fd, &info) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            opened = false
            throw FormatError(.io, "\(path) is not a regular file")
        }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            opened = false
            throw FormatError(.io, "mmap(\(path)) failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    /// Tells the kernel that `range` will be read once, front to back, so it reads ahead and may drop
    /// the pages early. Keeps resident memory flat while a pipeline streams through a large tensor.
    public func adviseSequential(_ range: Range<Int>) { advise(range, MADV_SEQUENTIAL) }

    /// Maps the pages of `range` in one call (MADV_POPULATE_READ, Linux 5.14+) instead of one fault
    /// per page when they are first touched. A hint: ignored where unsupported.
    public func prefetch(_ range: Range<Int>) { advise(range, 22 /* MADV_POPULATE_READ */) }

    /// Drops the pages of `range` from this process's resident set (they stay in the page cache).
    public func release(_ range: Range<Int>) { advise(range, MADV_DONTNEED) }

    private func advise(_ range: Range<Int>, _ advice: Int32) {
        guard let base = bytes.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = min(bytes.count, range.upperBound)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, advice)
    }

    /// Copies bytes `range` of the file into `destination` with pread: straight from the page
    /// cache, with no page faults in this process and nothing to release afterwards. For data read
    /// once in large pieces this costs less than touching the mapping and dropping its pages
    /// (faults, then TLB shootdowns on every core). Throws if the file has shrunk.
    public func read(_ range: Range<Int>, into destination: UnsafeMutableRawBufferPointer) throws {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, destination.count >= range.count else {
            throw FormatError(.io, "read of bytes \(range) of \(path) (\(bytes.count) bytes) into \(destination.count) bytes")
        }
        guard let base = destination.baseAddress, !range.isEmpty else { return }
        var done = 0
        while done < range.count {
            let got = try POSIX.call("pread", path: path) {
                pread(fd, base + done, range.count - done, off_t(range.lowerBound + done))
            }
            if got == 0 { throw FormatError(.io, "\(path) ended early: it changed while being read") }
            done += got
        }
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
        close(fd)
    }
}
