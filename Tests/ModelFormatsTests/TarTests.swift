import Foundation
import QuantTesting
import Testing

@testable import ModelFormats

/// Our tar writer and reader agree, fed in pieces of any size; damaged archives are errors.
@Suite("tar archives")
struct TarTests {
    func archive(_ files: [(String, [UInt8])]) throws -> (directory: URL, bytes: [UInt8]) {
        let directory = try makeTemporaryDirectory()
        for (name, data) in files { try Data(data).write(to: directory.appendingPathComponent(name)) }
        let stream = try TarStream(directory: directory.path, files: files.map(\.0))
        var bytes: [UInt8] = []
        var piece = [UInt8](repeating: 0, count: 1000)
        while true {
            let count = try piece.withUnsafeMutableBytes { try stream.read(into: $0.baseAddress!, capacity: 1000) }
            if count == 0 { break }
            bytes += piece[0..<count]
        }
        #expect(Int64(bytes.count) == stream.length)
        return (directory, bytes)
    }

    func read(_ bytes: [UInt8], pieces: Int, seed: UInt64) throws -> [(String, [UInt8])] {
        var reader = TarReader()
        var files: [(String, [UInt8])] = []
        var rng = SplitMix64(seed: seed)
        var offset = 0
        while offset < bytes.count {
            let size = Swift.min(bytes.count - offset, 1 + Int(rng.next() % UInt64(pieces)))
            try reader.feed(
                Array(bytes[offset..<(offset + size)]), begin: { name, _ in files.append((name, [])) },
                emit: { files[files.count - 1].1 += $0 })
            offset += size
        }
        try reader.finish()
        return files
    }

    @Test func writerAndReaderAgree() throws {
        let long = String(repeating: "n", count: 150) + ".json"
        let files: [(String, [UInt8])] = [
            ("config.json", Array("{}".utf8)), ("empty", []), (long, [UInt8](repeating: 9, count: 513)),
            ("model.safetensors", (0..<5000).map { UInt8($0 % 251) }),
        ]
        let (directory, bytes) = try archive(files)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (pieces, seed) in [(1, UInt64(1)), (7, 2), (512, 3), (100_000, 4)] {
            let read = try read(bytes, pieces: pieces, seed: seed)
            #expect(read.map(\.0) == files.map(\.0), "pieces of up to \(pieces)")
            #expect(read.map(\.1) == files.map(\.1), "pieces of up to \(pieces)")
        }
    }

    @Test func damagedArchivesAreErrors() throws {
        let (directory, bytes) = try archive([("config.json", Array("{}".utf8))])
        defer { try? FileManager.default.removeItem(at: directory) }
        for length in stride(from: 0, to: bytes.count - 1024, by: 97) {
            #expect(throws: FormatError.self) { _ = try read(Array(bytes.prefix(length)), pieces: 300, seed: 5) }
        }
        var flipped = bytes
        flipped[10] ^= 0x20  // in the name: the checksum no longer matches
        #expect(throws: FormatError.self) { _ = try read(flipped, pieces: 300, seed: 6) }
        var link = TarStream.headers(name: "x", size: 0)
        link[156] = UInt8(ascii: "2")
        let sum = link.enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
        let octal = Array(String(sum, radix: 8).utf8)
        for i in 0..<8 { link[148 + i] = i < 6 - octal.count ? 0x30 : (i < 6 ? octal[i - (6 - octal.count)] : (i == 6 ? 0 : 32)) }
        #expect(throws: FormatError.self) { _ = try read(link + [UInt8](repeating: 0, count: 1024), pieces: 300, seed: 7) }
    }
}
