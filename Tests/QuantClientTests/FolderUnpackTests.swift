import Digest
import Foundation
import ModelFormats
import Testing

@testable import QuantClient

/// A folder artifact is unpacked only when every file matches SHA256SUMS.
@Suite("Folder artifacts")
struct FolderUnpackTests {
    func archive(_ members: [(String, [UInt8])]) throws -> String {
        var bytes: [UInt8] = []
        for (name, data) in members {
            bytes +=
                TarStream.headers(name: name, size: data.count) + data
                + [UInt8](repeating: 0, count: TarStream.padded(data.count) - data.count)
        }
        bytes += [UInt8](repeating: 0, count: 1024)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qs-folder-\(UUID().uuidString).tar").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func hex(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return SHA256.hex(hasher.finalize())
    }

    @Test func matchingFilesAreUnpacked() throws {
        let config = Array(#"{"a": 1}"#.utf8)
        let weights = [UInt8](repeating: 7, count: 1000)
        let sums = Array("\(hex(config))  config.json\n\(hex(weights))  model.safetensors\n".utf8)
        let path = try archive([("config.json", config), ("model.safetensors", weights), ("SHA256SUMS", sums)])
        let target = path + ".out"
        defer { try? FileManager.default.removeItem(atPath: target) }
        try QuantClient.unpackFolder(path, to: target)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).sorted() == ["config.json", "model.safetensors"])
        #expect(FileManager.default.contents(atPath: target + "/model.safetensors") == Data(weights))
    }

    @Test func aMismatchLeavesNothing() throws {
        let config = Array(#"{"a": 1}"#.utf8)
        for sums in ["\(String(repeating: "0", count: 64))  config.json\n", "", "\(hex(config))  other.json\n"] {
            let path = try archive([("config.json", config), ("SHA256SUMS", Array(sums.utf8))])
            #expect(throws: ClientError.self) { try QuantClient.unpackFolder(path, to: path + ".out") }
            #expect(!FileManager.default.fileExists(atPath: path + ".out"))
            #expect(!FileManager.default.fileExists(atPath: path + ".out.unpacking"))
        }
        let hostile = try archive([("../escape.json", config), ("SHA256SUMS", Array("\(hex(config))  ../escape.json\n".utf8))])
        #expect(throws: (any Error).self) { try QuantClient.unpackFolder(hostile, to: hostile + ".out") }
        #expect(!FileManager.default.fileExists(atPath: hostile + ".out"))
    }
}
