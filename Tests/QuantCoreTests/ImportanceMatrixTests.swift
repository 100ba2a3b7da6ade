import Foundation
import ModelFormats
import Testing

@testable import QuantCore

/// llama.cpp importance matrices: both files read as llama.cpp's quantize reads them, Hugging Face
/// names matched, and damaged files thrown as errors (never a crash), whatever byte they stop at.
@Suite("Importance matrix files")
struct ImportanceMatrixTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("imatrix-\(UUID().uuidString)").path

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    static func legacy(_ entries: [(String, Int32, [Float])], trailer: (Int32, String)? = nil) -> [UInt8] {
        var out: [UInt8] = []
        func int32(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        int32(Int32(entries.count))
        for (name, calls, values) in entries {
            int32(Int32(name.utf8.count))
            out += Array(name.utf8)
            int32(calls)
            int32(Int32(values.count))
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        }
        if let (chunks, dataset) = trailer {
            int32(chunks)
            int32(Int32(dataset.utf8.count))
            out += Array(dataset.utf8)
        }
        return out
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let file = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    @Test func legacyValuesAreDividedByTheirCallCount() throws {
        let file = try write(
            Self.legacy([("blk.0.ffn_down.weight", 4, [4, 8, 0, 2]), ("output.weight", 0, [3, 5])], trailer: (10, "wiki.txt")),
            "a.dat")
        #expect(ImportanceMatrix.recognizes(path: file))
        let matrix = try ImportanceMatrix(path: file)
        #expect(matrix.format == .legacy && matrix.entryCount == 2 && matrix.chunkCount == 10 && matrix.datasets == ["wiki.txt"])
        #expect(try matrix.weights(for: "blk.0.ffn_down.weight", columns: 4)?.values == [1, 2, 0, 0.5])
        #expect(try matrix.weights(for: "output.weight", columns: 2)?.values == [3, 5])  // ncall 0: as stored, as llama.cpp does
        // Hugging Face names find their llama.cpp entries; other names find nothing.
        #expect(try matrix.weights(for: "model.layers.0.mlp.down_proj.weight", columns: 4)?.entry == "blk.0.ffn_down.weight")
        #expect(try matrix.weights(for: "lm_head.weight", columns: 2)?.entry == "output.weight")
        #expect(try matrix.weights(for: "model.layers.1.mlp.down_proj.weight", columns: 4) == nil)
        #expect(throws: CalibrationError.self) { try matrix.weights(for: "blk.0.ffn_down.weight", columns: 8) }
    }

    @Test func ggufSumsAreDividedByTheirCountsAndUnseenExpertsWeighOne() throws {
        let file = path("m.gguf")
        let sums: [Float] = [8, 16, 24, 1, 2, 3]  // two experts of three columns
        let counts: [Float] = [8, 0]  // the second expert saw no tokens
        let writer = try GGUFWriter(
            path: file,
            metadata: [
                GGUFKeyValue("imatrix.datasets", .array(.string(["d.txt"]))), GGUFKeyValue("imatrix.chunk_count", .uint32(3)),
            ],
            tensors: [
                GGUFTensorSpec(name: "blk.0.ffn_up_exps.weight.in_sum2", dims: [3, 2], type: .f32),
                GGUFTensorSpec(name: "blk.0.ffn_up_exps.weight.counts", dims: [1, 2], type: .f32),
                GGUFTensorSpec(name: "blk.0.attn_q.weight.in_sum2", dims: [2, 1], type: .f32),
                GGUFTensorSpec(name: "blk.0.attn_q.weight.counts", dims: [1, 1], type: .f32),
            ])
        for values in [sums, counts, [Float(6), 9], [Float(3)]] { try values.withUnsafeBytes { try writer.write($0) } }
        try writer.finish()
        #expect(ImportanceMatrix.recognizes(path: file))
        let matrix = try ImportanceMatrix(path: file)
        #expect(matrix.format == .gguf && matrix.entryCount == 2 && matrix.chunkCount == 3 && matrix.datasets == ["d.txt"])
        #expect(try matrix.weights(for: "model.layers.0.self_attn.q_proj.weight", columns: 2)?.values == [2, 3])
        try matrix.validateValues()
        // Per-expert entries are read (ones for the unseen expert) but fit no 2-D weight.
        #expect(throws: CalibrationError.self) { try matrix.weights(for: "blk.0.ffn_up_exps.weight", columns: 3) }
    }

    @Test func damagedFilesThrowWhereverTheyStop() throws {
        let whole = Self.legacy(
            [("blk.0.attn_q.weight", 2, [1, 2, 3, 4]), ("blk.0.attn_k.weight", 2, [5, 6, 7, 8])], trailer: (2, "x"))
        for cut in 0..<whole.count {
            let file = try write(Array(whole[..<cut]), "cut.dat")
            // A prefix is either refused or, past the last entry, read without its optional trailer.
            if let matrix = try? ImportanceMatrix(path: file) { #expect(matrix.entryCount == 2) }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var bytes = whole
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            let file = try write(bytes, "flip.dat")
            if let matrix = try? ImportanceMatrix(path: file) { _ = try? matrix.validateValues() }
        }
        let negative = try write(Self.legacy([("w", 1, [1, -1])]), "neg.dat")
        #expect(throws: CalibrationError.self) { try ImportanceMatrix(path: negative).validateValues() }
        let twice = try write(Self.legacy([("w", 1, [1]), ("w", 1, [2])]), "twice.dat")
        #expect(throws: CalibrationError.self) { try ImportanceMatrix(path: twice) }
        // A safetensors dataset is not taken for one.
        let safetensors = try write([16, 0, 0, 0, 0, 0, 0, 0] + Array(#"{"__metadata__":{}}"#.utf8), "d.safetensors")
        #expect(!ImportanceMatrix.recognizes(path: safetensors))
    }
}
