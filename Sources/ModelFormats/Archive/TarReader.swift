/// Streams the regular files out of a tar archive (ustar, with pax and GNU long names) without
/// holding it: each member is announced with its name and size, then its data is handed on as it
/// arrives. Links, devices and other special members are refused; directories are skipped.
public struct TarReader {
    public init() {}

    private enum State {
        case header
        case data(remaining: Int, padding: Int)
        case skip(remaining: Int)
        case longName(remaining: Int, padding: Int, pax: Bool)
        case end
    }

    private var state = State.header
    private var buffer: [UInt8] = []
    /// A name carried by a pax or GNU long-name record for the next member.
    private var pendingName: String?
    private var longNameBytes: [UInt8] = []
    static let maxLongName = 64 * 1024

    /// Feeds archive bytes: `begin(name, size)` before each regular file's data, `emit` with it.
    public mutating func feed(_ chunk: [UInt8], begin: (String, Int) throws -> Void, emit: ([UInt8]) throws -> Void) throws {
        // Most of an archive is file data that arrives in whole chunks: hand those on uncopied.
        if buffer.isEmpty, case .data(let remaining, let padding) = state, remaining >= chunk.count {
            try emit(chunk)
            state =
                remaining == chunk.count ? .skip(remaining: padding) : .data(remaining: remaining - chunk.count, padding: padding)
            return
        }
        buffer += chunk
        var offset = 0
        defer { buffer.removeFirst(offset) }
        while true {
            switch state {
            case .end:
                offset = buffer.count
                return
            case .header:
                guard buffer.count - offset >= 512 else { return }
                let block = Array(buffer[offset..<(offset + 512)])
                offset += 512
                if block.allSatisfy({ $0 == 0 }) {
                    state = .end
                    continue
                }
                try header(block, begin: begin)
            case .data(let remaining, let padding):
                let take = Swift.min(remaining, buffer.count - offset)
                if take > 0 { try emit(Array(buffer[offset..<(offset + take)])) }
                offset += take
                if remaining - take > 0 {
                    state = .data(remaining: remaining - take, padding: padding)
                    return
                }
                state = .skip(remaining: padding)
            case .skip(let remaining):
                let take = Swift.min(remaining, buffer.count - offset)
                offset += take
                if remaining - take > 0 {
                    state = .skip(remaining: remaining - take)
                    return
                }
                state = .header
            case .longName(let remaining, let padding, let pax):
                let take = Swift.min(remaining, buffer.count - offset)
                longNameBytes += buffer[offset..<(offset + take)]
                offset += take
                if remaining - take > 0 {
                    state = .longName(remaining: remaining - take, padding: padding, pax: pax)
                    return
                }
                pendingName =
                    pax ? Self.paxPath(longNameBytes) : String(decoding: longNameBytes.prefix { $0 != 0 }, as: UTF8.self)
                longNameBytes = []
                state = .skip(remaining: padding)
            }
        }
    }

    /// Checks that the archive ended (its two zero blocks, or at least one, as GNU tar accepts).
    public func finish() throws {
        guard case .end = state else {
            throw FormatError(
                .invalidArchive, "the tar stream ends inside a member or before its end-of-archive blocks: send the whole archive"
            )
        }
    }

    private mutating func header(_ block: [UInt8], begin: (String, Int) throws -> Void) throws {
        let stored = Self.octal(block[148..<156])
        let sum = block.enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
        guard stored == sum else {
            throw FormatError(
                .invalidArchive, "not a tar archive (a header's checksum does not match); send `tar -cf - -C DIR .` output")
        }
        guard let size = Self.size(block[124..<136]), size >= 0 else {
            throw FormatError(.invalidArchive, "a tar header has an unreadable size")
        }
        let padding = (512 - size % 512) % 512
        let type = block[156]
        var name = pendingName ?? Self.ustarName(block)
        pendingName = nil
        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "L"):
            guard size <= Self.maxLongName else {
                throw FormatError(.invalidArchive, "a tar long-name record of \(size) bytes is too large")
            }
            state = .longName(remaining: size, padding: padding, pax: type == UInt8(ascii: "x"))
        case UInt8(ascii: "g"), UInt8(ascii: "5"):
            state = .skip(remaining: size + padding)  // global pax records and directories carry no file
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
            while name.hasPrefix("./") { name.removeFirst(2) }
            try begin(name, size)
            state = .data(remaining: size, padding: padding)
        default:
            throw FormatError(
                .invalidArchive,
                "tar member '\(name)' is not a regular file (type '\(Character(UnicodeScalar(type)))'); send the files themselves, not links"
            )
        }
    }

    static func ustarName(_ block: [UInt8]) -> String {
        let name = String(decoding: block[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        let isUstar = Array(block[257..<262]) == Array("ustar".utf8)
        let prefix = isUstar ? String(decoding: block[345..<500].prefix { $0 != 0 }, as: UTF8.self) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// An octal field (NUL or space terminated).
    static func octal(_ field: ArraySlice<UInt8>) -> Int {
        field.drop { $0 == 32 }.prefix { $0 >= 48 && $0 <= 55 }.reduce(0) { $0 * 8 + Int($1 - 48) }
    }

    /// Octal, or GNU's base-256 for sizes of 8 GiB and more.
    static func size(_ field: ArraySlice<UInt8>) -> Int? {
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            let bytes = field.dropFirst()
            guard first == 0x80, bytes.prefix(bytes.count - 7).allSatisfy({ $0 == 0 }) else { return nil }
            return bytes.suffix(7).reduce(0) { $0 << 8 | Int($1) }
        }
        return octal(field)
    }

    /// The `path` record of a pax extended header ("<len> path=<value>\n").
    static func paxPath(_ bytes: [UInt8]) -> String? {
        for record in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let space = record.firstIndex(of: " ") else { continue }
            let entry = record[record.index(after: space)...]
            if entry.hasPrefix("path=") { return String(entry.dropFirst(5)) }
        }
        return nil
    }
}
