/// A bounds-checked little-endian reader over bytes that may be hostile. Every read checks the
/// remaining length first and throws `truncated` with the byte offset, so no read ever leaves the
/// buffer and no count is trusted before it has been compared with the bytes that remain.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else {
            throw FormatError(
                .truncated, "\(what()) needs \(count) bytes but only \(remaining) remain", offset: position)
        }
    }

    mutating func readInteger<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, what())
        let value = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readU8(_ what: @autoclosure () -> String) throws -> UInt8 { try readInteger(UInt8.self, what()) }
    mutating func readU32(_ what: @autoclosure () -> String) throws -> UInt32 { try readInteger(UInt32.self, what()) }
    mutating func readU64(_ what: @autoclosure () -> String) throws -> UInt64 { try readInteger(UInt64.self, what()) }

    /// Returns a view of the next `count` bytes and advances past them.
    mutating func readBytes(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try require(count, what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        position += count
        return slice
    }

    mutating func skip(to newPosition: Int, _ what: @autoclosure () -> String) throws {
        try require(newPosition - position, what())
        position = newPosition
    }
}
