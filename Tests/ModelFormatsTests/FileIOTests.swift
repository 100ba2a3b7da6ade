import Digest
import Foundation
import Testing

@testable import ModelFormats

/// The file layer under the readers and writers: background writes and positional reads.
@Suite struct FileIOTests {
    /// A failed write on the background thread is not lost: a later write or `finish` throws it,
    /// so a full disk never passes for a finished file. (/dev/full fails every write with ENOSPC.)
    @Test func aFailedBackgroundWriteIsThrownLater() throws {
        let writer = try SafetensorsWriter(path: "/dev/full", tensors: [TensorSpec(name: "w", dtype: .u8, shape: [5 << 20])])
        let piece = [UInt8](repeating: 7, count: 1 << 20)
        var thrown: (any Error)?
        do {
            for _ in 0..<5 { try writer.write(piece) }
            try writer.finish(sync: false)
        } catch {
            thrown = error
        }
        let error = try #require(thrown as? FormatError)
        #expect(error.code == .noSpace)
        #expect("\(error)".contains("No space left"), "\(error)")
    }

    /// Bytes written through the buffers, in pieces of every size around the buffer's, come back in
    /// order (the background thread never reorders or drops a buffer), and the digest taken while
    /// writing is the file's.
    @Test func piecesOfEverySizeArriveInOrder() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pieces.bin").path
        let sizes = [1, 1 << 20, (1 << 20) - 1, 3, 9 << 20, 5 << 19, 17, (1 << 20) + 1, 0, 2 << 20]
        var expected: [UInt8] = []
        let sink = try FileSink(path: path, hashing: true)
        for (index, size) in sizes.enumerated() {
            let piece = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            try sink.write(piece)
            expected += piece
        }
        try sink.close(sync: false)
        #expect(sink.bytesWritten == expected.count)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == expected)
        #expect(sink.sha256 == SHA256.hex(SHA256.hash(expected)))
    }

    /// A file that shrinks after it was opened (another process truncating it) is an error on read,
    /// never a SIGBUS from touching a mapping past its end.
    @Test func readingAShrunkFileThrows() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("shrinks.bin").path
        try Data(repeating: 1, count: 1 << 20).write(to: URL(fileURLWithPath: path))
        let file = try MappedFile(path: path)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { out.deallocate() }
        try file.read(4096..<8192, into: out)
        #expect(out.load(fromByteOffset: 100, as: UInt8.self) == 1)
        #expect(truncate(path, 4096) == 0)
        let error = expectFormatError(.io) { try file.read(0..<(1 << 20), into: out) }
        #expect(error.map { "\($0)".contains("changed while being read") } == true)
        expectFormatError(.io) { try file.read(0..<((1 << 20) + 1), into: out) }
    }
}
