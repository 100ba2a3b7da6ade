import Foundation
import ModelFormats
import QuantCore
import QuantTesting

/// Model files written for a test, in a temporary directory removed with the fixture.
final class Fixtures: @unchecked Sendable {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qs-e2e-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A safetensors model: `layers` weight matrices (rows x cols, Gaussian-like values from a fixed
    /// seed) and one 1-D bias, which the presets keep as it is.
    func model(layers: Int = 2, rows: Int = 64, cols: Int = 256, seed: UInt64 = 7) throws -> String {
        let path = path("model-\(seed)-\(layers)x\(rows)x\(cols).safetensors")
        var rng = SplitMix64(seed: seed)
        var specs = (0..<layers).map { TensorSpec(name: "layers.\($0).weight", dtype: .f32, shape: [rows, cols]) }
        specs.append(TensorSpec(name: "head.bias", dtype: .f32, shape: [cols]))
        let writer = try SafetensorsWriter(path: path, tensors: specs)
        for spec in specs {
            let count = spec.shape.reduce(1, *)
            // Sum of four uniforms: bell-shaped like real weights, with a few larger values.
            let values = (0..<count).map { _ in (0..<4).map { _ in Float(rng.next() % 10_000) / 10_000 - 0.5 }.reduce(0, +) }
            try writer.write(try FloatCodec.fromFloat32(.f32, values))
        }
        try writer.finish()
        return path
    }

    /// Every tensor of a file as fp32 (dequantizing an artifact first when it is not plain fp32).
    func tensors(of path: String, dequantize: Bool) throws -> [String: [Float]] {
        var source = path
        if dequantize {
            source = self.path("dq-\(UUID().uuidString).safetensors")
            try Dequantizer.run(input: path, output: source)
        }
        let file = try SafetensorsFile(path: source)
        var result: [String: [Float]] = [:]
        for name in file.header.tensors.map(\.name) { result[name] = try file.tensor(named: name).floats() }
        return result
    }

    /// Signal-to-quantization-noise ratio in dB (infinite for an exact copy).
    static func sqnr(_ reference: [Float], _ approximation: [Float]) -> Double {
        var signal = 0.0
        var noise = 0.0
        for (r, a) in zip(reference, approximation) {
            signal += Double(r) * Double(r)
            noise += (Double(r) - Double(a)) * (Double(r) - Double(a))
        }
        return noise == 0 ? .infinity : 10 * log10(signal / noise)
    }
}
