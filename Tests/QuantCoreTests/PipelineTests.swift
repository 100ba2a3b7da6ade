import Digest
import Foundation
import ModelFormats
import QuantTesting
import Synchronization
import Testing

@testable import QuantCore

/// Writes a safetensors model from (name, shape, values) triples (F32).
func writeModel(_ path: String, _ tensors: [(String, [Int], [Float])], dtype: DType = .f32) throws {
    let writer = try SafetensorsWriter(path: path, tensors: tensors.map { TensorSpec(name: $0.0, dtype: dtype, shape: $0.1) })
    for (_, _, values) in tensors { try writer.write(try FloatCodec.fromFloat32(dtype, values)) }
    try writer.finish()
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("qs-pipeline-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("Pipeline")
struct PipelineTests {
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Int(rng.next() % 2001) - 1000) / 300 }
    }

    @Test func quantizesAndDequantizesWithinTheBound() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        let w = Self.values(300 * 200, seed: 1)
        try writeModel(input, [("w", [300, 200], w), ("b", [200], Self.values(200, seed: 2))])
        // Small chunks force many chunks per tensor.
        let options = PipelineOptions(threads: 2, chunkElements: 1024)
        for preset in ["int8", "int8-tensor", "uint8-asym", "int4-g128", "int4-g128-asym", "int4-channel"] {
            let output = dir.appendingPathComponent("\(preset).safetensors").path
            let report = try Pipeline.run(input: input, output: output, recipe: try Recipe.preset(preset), options: options)
            #expect(report.tensors.map(\.method) == ["linear", "copy"])
            let back = dir.appendingPathComponent("\(preset)-back.safetensors").path
            try Dequantizer.run(input: output, output: back)
            let restored = try SafetensorsFile(path: back).tensor(named: "w").floats()
            let file = try SafetensorsFile(path: output)
            let scales = try file.tensor(named: "w.scale").floats()
            let maxScale = scales.max()!
            for i in w.indices { #expect(abs(restored[i] - w[i]) <= maxScale / 2 * 1.0001 + 1e-6, "\(preset) \(i)") }
            // The report's error matches the file's.
            let metrics = report.tensors[0].metrics!
            let sse = zip(restored, w).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            #expect(abs(metrics.sumSquaredError - sse) <= 1e-4 * sse + 1e-9, "\(preset)")
        }
    }

    @Test func everyChannelAxisAndRank() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        let x = Self.values(4 * 3 * 5 * 6, seed: 3)
        try writeModel(input, [("t", [4, 3, 5, 6], x)], dtype: .bf16)
        let original = try SafetensorsFile(path: input).tensor(named: "t").floats()
        for axis in 0..<4 {
            for bits in [8, 3] {
                let recipe = try Recipe.parse(
                    #"{"weights": {"bits": \#(bits), "granularity": "channel", "axis": \#(axis), "symmetric": false}}"#)
                let output = dir.appendingPathComponent("a\(axis)-\(bits).safetensors").path
                _ = try Pipeline.run(
                    input: input, output: output, recipe: recipe, options: PipelineOptions(threads: 2, chunkElements: 1024))
                let back = output + ".back"
                try Dequantizer.run(input: output, output: back)
                let restored = try SafetensorsFile(path: back).tensor(named: "t").floats()
                let scales = try SafetensorsFile(path: output).tensor(named: "t.scale").floats()
                #expect(scales.count == [4, 3, 5, 6][axis])
                let bound = scales.max()! / 2 * 1.0001
                #expect(zip(restored, original).allSatisfy { abs($0 - $1) <= bound }, "axis \(axis) bits \(bits)")
            }
        }
    }

    @Test func progressAndCancellation() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        try writeModel(input, [("a", [64, 64], Self.values(4096, seed: 4)), ("b", [64, 64], Self.values(4096, seed: 5))])
        let seen = Mutex<[PipelineProgress]>([])
        let output = dir.appendingPathComponent("o.safetensors").path
        _ = try Pipeline.run(
            input: input, output: output, recipe: try Recipe.preset("int8"),
            options: PipelineOptions(chunkElements: 1024, progress: { p in seen.withLock { $0.append(p) } }))
        let updates = seen.withLock { $0 }
        #expect(updates.count > 4)
        #expect(updates.last?.tensorsDone == 2 && updates.last?.bytesDone == updates.last?.bytesTotal)
        #expect(zip(updates, updates.dropFirst()).allSatisfy { $0.bytesDone <= $1.bytesDone })

        let cancelled = dir.appendingPathComponent("c.safetensors").path
        let calls = Mutex(0)
        #expect(throws: PipelineError.cancelled) {
            _ = try Pipeline.run(
                input: input, output: cancelled, recipe: try Recipe.preset("int8"),
                options: PipelineOptions(
                    chunkElements: 1024,
                    isCancelled: {
                        calls.withLock {
                            $0 += 1
                            return $0 > 3
                        }
                    }))
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("c.safetensors") }
        #expect(leftovers.isEmpty, "partial files left: \(leftovers)")
    }

    @Test func nonFiniteValuesNameTheTensorOrAreKept() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        var bad = Self.values(64 * 32, seed: 6)
        bad[77] = .nan
        try writeModel(input, [("good", [64, 32], Self.values(2048, seed: 7)), ("bad", [64, 32], bad)])
        for preset in ["int8", "int4-g128", "int8-tensor", "q8_0", "fp16"] {
            let output = dir.appendingPathComponent("o-\(preset)").path
            #expect(throws: PipelineError.nonFinite("bad", 1)) {
                _ = try Pipeline.run(input: input, output: output, recipe: try Recipe.preset(preset))
            }
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        let kept = dir.appendingPathComponent("kept.safetensors").path
        let report = try Pipeline.run(
            input: input, output: kept, recipe: try Recipe.parse(#"{"preset": "int8", "nonfinite": "keep"}"#))
        #expect(report.tensors.map(\.method) == ["linear", "copy"])
        #expect(report.tensors[1].note?.contains("NaN") == true)
        let copied = try SafetensorsFile(path: kept).tensor(named: "bad").floats()
        #expect(copied[77].isNaN && copied[78] == bad[78])
    }

    /// Block and float encoders find NaN and Inf from their error sums instead of a range pass:
    /// every kind is still reported with its count, in any chunk and either thread's rows.
    @Test func nonFiniteValuesAreFoundInEveryChunkForEveryEncoder() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (index, (poison, count)) in [(Float.nan, 1), (Float.infinity, 2), (-Float.infinity, 3)].enumerated() {
            let input = dir.appendingPathComponent("m\(index).safetensors").path
            var bad = Self.values(16 * 512, seed: 9)
            for k in 0..<count { bad[5700 + 100 * k] = poison }  // all in row 11: one part counts them
            try writeModel(input, [("clean", [8, 512], Self.values(8 * 512, seed: 10)), ("bad", [16, 512], bad)])
            for preset in ["q4_0", "q5_1", "q2_k", "q3_k", "q4_k", "q6_k", "bf16", "fp16"] {
                let output = dir.appendingPathComponent("o-\(preset)").path
                #expect(throws: PipelineError.nonFinite("bad", count), "\(preset) \(poison)") {
                    _ = try Pipeline.run(
                        input: input, output: output, recipe: try Recipe.preset(preset),
                        options: PipelineOptions(threads: 2, chunkElements: 1024))
                }
                #expect(!FileManager.default.fileExists(atPath: output))
            }
        }
    }

    /// `hashArtifact`: the digest taken while writing is the finished file's, for both writers.
    @Test func theArtifactIsHashedAsItIsWritten() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        try writeModel(input, [("w", [512, 256], Self.values(512 * 256, seed: 11)), ("b", [256], Self.values(256, seed: 12))])
        var options = PipelineOptions(chunkElements: 4096)
        options.hashArtifact = true
        for preset in ["int4-g128", "q4_k_m"] {
            let output = dir.appendingPathComponent("o-\(preset)").path
            let report = try Pipeline.run(input: input, output: output, recipe: try Recipe.preset(preset), options: options)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
            #expect(report.artifactSHA256 == SHA256.hex(SHA256.hash(bytes)), "\(preset)")
            #expect(report.fileBytesOut == bytes.count)
        }
        let plain = try Pipeline.run(
            input: input, output: dir.appendingPathComponent("plain").path, recipe: try Recipe.preset("int8"))
        #expect(plain.artifactSHA256 == nil)
    }

    @Test func scalesAreStoredInTheirDTypeAndUsedAsStored() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        try writeModel(input, [("w", [16, 64], Self.values(1024, seed: 8))])
        let output = dir.appendingPathComponent("o.safetensors").path
        _ = try Pipeline.run(
            input: input, output: output, recipe: try Recipe.parse(#"{"preset": "int8", "weights": {"scale_dtype": "F16"}}"#))
        let file = try SafetensorsFile(path: output)
        #expect(try file.tensorInfo(named: "w.scale").dtype == .f16)
        // Every code is within range of round(x / stored_scale): the stored fp16 scale was used.
        let scales = try file.tensor(named: "w.scale").floats()
        let codes = try file.tensor(named: "w").integers(as: Int8.self)
        let x = try SafetensorsFile(path: input).tensor(named: "w").floats()
        for i in x.indices { #expect(Int(codes[i]) == Int((x[i] * (1 / scales[i / 64])).rounded(.toNearestOrEven))) }
    }

    @Test func ggufRulesAreErrorsBeforeAnythingIsWritten() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        let longName = String(repeating: "n", count: 64)
        try writeModel(input, [(longName, [2, 32], Self.values(64, seed: 9))])
        let output = dir.appendingPathComponent("o.gguf").path
        #expect(throws: PipelineError.self) {
            _ = try Pipeline.run(input: input, output: output, recipe: try Recipe.preset("q8_0"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["m.safetensors"])
    }
}

@Suite("Stochastic rounding")
struct StochasticRoundingTests {
    @Test func reproducibleAndUnbiased() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        // Every value sits 0.3 of a step above a grid point (scale = 1/7 for absmax 1 at 4 bits).
        let step: Float = 1.0 / 7
        var values = [Float](repeating: step * 2.3, count: 64 * 128)
        for row in 0..<64 { values[row * 128] = 1 }  // fixes each row's absmax, so the scale is 1/7
        try writeModel(input, [("w", [64, 128], values)])
        func run(_ recipe: String, threads: Int, name: String) throws -> [UInt8] {
            let output = dir.appendingPathComponent(name).path
            _ = try Pipeline.run(
                input: input, output: output, recipe: try Recipe.parse(recipe),
                options: PipelineOptions(threads: threads, chunkElements: 1024))
            let file = try SafetensorsFile(path: output)
            return Array(file.bytes(of: try file.tensorInfo(named: "w")))
        }
        let recipe = #"{"weights": {"bits": 4, "rounding": {"method": "stochastic", "seed": 7}}}"#
        let a = try run(recipe, threads: 1, name: "a")
        let b = try run(recipe, threads: 2, name: "b")
        #expect(a == b)  // the same seed gives the same codes, whatever the threads and chunks
        let c = try run(#"{"weights": {"bits": 4, "rounding": {"method": "stochastic", "seed": 8}}}"#, threads: 1, name: "c")
        #expect(a != c)
        // Unbiased: codes are 2 or 3 (2.3 steps), and about 30% of them are 3.
        let codes = a.map { Int8(bitPattern: $0 << 4) >> 4 }  // low nibble, sign-extended
        var high = 0
        var total = 0
        for (index, code) in codes.enumerated() where index % 64 != 0 {  // skip each row's first byte (holds the absmax)
            #expect(code == 2 || code == 3)
            total += 1
            if code == 3 { high += 1 }
        }
        let share = Double(high) / Double(total)
        #expect(abs(share - 0.3) < 0.03, "share of rounding up: \(share)")
    }

    @Test func recipeFields() throws {
        let spec = try Recipe.parse(#"{"weights": {"rounding": {"method": "stochastic", "seed": 3}}}"#).weights
        #expect(spec.scheme?.rounding == .stochastic(seed: 3))
        #expect(throws: RecipeError.self) {
            try Recipe.parse(#"{"weights": {"rounding": {"method": "stochastic", "seed": -1}}}"#)
        }
        #expect(throws: RecipeError.self) { try Recipe.parse(#"{"weights": {"rounding": {"method": "adaround"}}}"#) }
    }
}

@Suite("Binary and ternary weights")
struct SignWeightTests {
    @Test func definitions() {
        let w: [Float] = [0.5, -1.5, 0.1, -0.1, 2.0, 0, -0.3, 0.9]
        var codes = [UInt8](repeating: 9, count: w.count)
        let binaryScale = w.withUnsafeBufferPointer { x in
            codes.withUnsafeMutableBufferPointer { SignTensorEncoder.quantize(x, ternary: false, codes: $0) }
        }
        #expect(abs(binaryScale - 5.4 / 8) < 1e-6)  // mean |w|
        #expect(codes == [1, 0, 1, 0, 1, 1, 0, 1])  // 1 = +1 (w >= 0)
        let ternaryScale = w.withUnsafeBufferPointer { x in
            codes.withUnsafeMutableBufferPointer { SignTensorEncoder.quantize(x, ternary: true, codes: $0) }
        }
        // threshold 0.7 * 0.675 = 0.4725: survivors 0.5, -1.5, 2.0, 0.9
        #expect(codes.map { Int8(bitPattern: $0) } == [1, -1, 0, 0, 1, 0, 0, 1])
        #expect(abs(ternaryScale - (0.5 + 1.5 + 2.0 + 0.9) / 4) < 1e-6)
    }

    @Test func throughThePipelineAndBack() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("m.safetensors").path
        let w = PipelineTests.values(6 * 4 * 37, seed: 12)
        try writeModel(input, [("w", [6, 4, 37], w)])
        for preset in ["binary", "ternary"] {
            let output = dir.appendingPathComponent(preset).path
            let report = try Pipeline.run(
                input: input, output: output, recipe: try Recipe.preset(preset), options: PipelineOptions(chunkElements: 1024))
            #expect(report.tensors[0].method == preset)
            let file = try SafetensorsFile(path: output)
            let codesInfo = try file.tensorInfo(named: "w")
            #expect(codesInfo.shape == [6, 4, preset == "binary" ? 5 : 10])  // 37 fields of 1 or 2 bits per row
            let scales = try file.tensor(named: "w.scale").floats()
            #expect(scales.count == 6)
            let back = dir.appendingPathComponent("\(preset)-back").path
            try Dequantizer.run(input: output, output: back)
            let restored = try SafetensorsFile(path: back).tensor(named: "w").floats()
            for i in w.indices {
                let channel = i / (4 * 37)
                let allowed: [Float] =
                    preset == "binary" ? [scales[channel], -scales[channel]] : [scales[channel], -scales[channel], 0]
                #expect(allowed.contains(restored[i]))
                if preset == "binary" { #expect((restored[i] > 0) == (w[i] >= 0)) }
            }
        }
    }
}
