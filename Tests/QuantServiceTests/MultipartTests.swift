import Foundation
import QuantTesting
import Testing

@testable import QuantService

/// The streaming multipart extractor against bodies cut into every chunk size, with file data full
/// of near-delimiters (CR LF and "--" and most of the boundary), which the memchr search must skip.
@Suite("Multipart file extraction")
struct MultipartTests {
    static let boundary = "------------------------a1b2c3d4e5"

    static func body(file: [UInt8]) -> [UInt8] {
        var out = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n".utf8)
        out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.safetensors\"\r\n".utf8)
        out += Array("Content-Type: application/octet-stream\r\n\r\n".utf8)
        out += file
        out += Array("\r\n--\(boundary)--\r\n".utf8)
        return out
    }

    static func extract(_ body: [UInt8], chunk: Int) throws -> [UInt8] {
        var extractor = try #require(MultipartFileExtractor(contentType: "multipart/form-data; boundary=\(boundary)"))
        var file: [UInt8] = []
        var offset = 0
        while offset < body.count {
            let end = min(body.count, offset + chunk)
            try extractor.feed(Array(body[offset..<end])) { file += $0 }
            offset = end
        }
        try extractor.finish()
        return file
    }

    @Test func everyChunkSizeGivesTheFileBack() throws {
        var rng = SplitMix64(seed: 11)
        var file = (0..<5000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Traps: delimiter prefixes of every length inside the data.
        let delimiter = Array("\r\n--\(Self.boundary)".utf8)
        for length in 1..<delimiter.count { file += delimiter.prefix(length) + [0x41] }
        file += Array(repeating: 0x0D, count: 50)
        let body = Self.body(file: file)
        for chunk in [1, 2, 3, 7, 16, 41, 64, 100, 1000, body.count] {
            #expect(try Self.extract(body, chunk: chunk) == file, "chunk \(chunk)")
        }
    }

    @Test func missingFileOrBoundaryIsRefused() throws {
        #expect(MultipartFileExtractor(contentType: "multipart/form-data") == nil)
        #expect(MultipartFileExtractor(contentType: "application/json") == nil)
        let noFile = Array(
            "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--\(Self.boundary)--\r\n".utf8)
        #expect(throws: (any Error).self) { _ = try Self.extract(noFile, chunk: 7) }
        // A file part that never ends is not a complete file.
        let truncated = Array(Self.body(file: [1, 2, 3]).dropLast(20))
        #expect(throws: (any Error).self) { _ = try Self.extract(truncated, chunk: 5) }
    }
}
