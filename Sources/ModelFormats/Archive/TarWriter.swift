import Foundation

/// A tar archive (ustar; pax records for names over 100 bytes) of some files in one folder, made
/// as it is read: headers and padding are computed, file contents are read from disk piece by
/// piece, so a checkpoint of any size is sent or archived in bounded memory. Its length is known
/// up front.
public final class TarStream {
    private let directory: String
    private var pending: [String]
    private var buffer: [UInt8] = []
    private var offset = 0
    private var file: FileHandle?
    private var fileLeft = 0
    private var padding = 0
    private var finished = false
    public let length: Int64

    public init(directory: String, files: [String]) throws {
        self.directory = directory
        pending = files
        var total: Int64 = 1024  // two zero blocks end the archive
        for name in files {
            let size = try Self.size(of: (directory as NSString).appendingPathComponent(name))
            total += Int64(Self.headers(name: name, size: size).count) + Int64(Self.padded(size))
        }
        length = total
    }

    /// Copies up to `capacity` next bytes of the archive; 0 at its end.
    public func read(into target: UnsafeMutableRawPointer, capacity: Int) throws -> Int {
        while offset == buffer.count {
            guard try refill() else { return 0 }
        }
        let count = Swift.min(capacity, buffer.count - offset)
        buffer.withUnsafeBytes { target.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        return count
    }

    /// The next piece: a member's headers, a slice of its data, its padding, or the end blocks.
    private func refill() throws -> Bool {
        offset = 0
        if let handle = file {
            if fileLeft > 0 {
                let data = try handle.read(upToCount: Swift.min(fileLeft, 1 << 20)) ?? Data()
                guard !data.isEmpty else { throw FormatError(.io, "\(directory): a file shrank while it was archived") }
                buffer = [UInt8](data)
                fileLeft -= data.count
                return true
            }
            try handle.close()
            file = nil
            buffer = [UInt8](repeating: 0, count: padding)
            return true
        }
        guard !pending.isEmpty else {
            if finished { return false }
            finished = true
            buffer = [UInt8](repeating: 0, count: 1024)
            return true
        }
        let name = pending.removeFirst()
        let path = (directory as NSString).appendingPathComponent(name)
        let size = try Self.size(of: path)
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FormatError(.io, "cannot read \(path)") }
        file = handle
        fileLeft = size
        padding = Self.padded(size) - size
        buffer = Self.headers(name: name, size: size)
        return true
    }

    public static func size(of path: String) throws -> Int {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber else {
            throw FormatError(.io, "cannot read \(path)")
        }
        return size.intValue
    }

    public static func padded(_ size: Int) -> Int { (size + 511) / 512 * 512 }

    /// The member's header block, preceded by a pax record when the name needs one.
    public static func headers(name: String, size: Int) -> [UInt8] {
        let bytes = Array(name.utf8)
        guard bytes.count > 100 else { return block(name: bytes, size: size, type: UInt8(ascii: "0")) }
        // "<length> path=<name>\n", the length counting its own digits.
        let rest = " path=\(name)\n".utf8.count
        var length = rest + 1
        while rest + String(length).count != length { length = rest + String(length).count }
        let pax = Array("\(length) path=\(name)\n".utf8)
        return block(name: Array("PaxHeaders/long-name".utf8), size: pax.count, type: UInt8(ascii: "x")) + pax
            + [UInt8](repeating: 0, count: padded(pax.count) - pax.count)
            + block(name: Array(bytes.prefix(100)), size: size, type: UInt8(ascii: "0"))
    }

    static func block(name: [UInt8], size: Int, type: UInt8) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: [UInt8], at start: Int) { for (i, byte) in text.enumerated() { header[start + i] = byte } }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: Swift.max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(name, at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        if size < 1 << 33 {
            put(octal(size, width: 12), at: 124)
        } else {  // GNU base-256 for 8 GiB and more
            header[124] = 0x80
            for i in 0..<8 { header[135 - i] = UInt8(truncatingIfNeeded: size >> (8 * i)) }
        }
        put(octal(0, width: 12), at: 136)
        header[156] = type
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        put([UInt8](repeating: 32, count: 8), at: 148)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [32], at: 148)
        return header
    }
}
