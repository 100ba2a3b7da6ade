import Foundation
import ModelFormats
import QuantAPI
import QuantClient
import QuantCore
import Testing

/// Every preset through a live server: upload, submit, wait, download (sha256-checked by the
/// client), then the artifact is dequantized here and compared with the original model.
@Suite("End to end: every preset")
struct PresetTests {
    /// The least SQNR each preset must reach on the fixture's bell-shaped weights (dB). These are
    /// well under what each format gives (about 6 dB per bit) but catch a wrong scale, layout or
    /// dequantizer at once.
    static func floor(_ preset: String) -> Double {
        switch preset {
        case "fp16", "bf16": 40
        case "int8", "int8-tensor", "uint8-asym", "q8_0", "int8-pow2": 30
        case "q5_0", "q5_1": 22
        case "q6_k": 28
        case "q5_k": 22
        case "q3_k": 10
        case "q2_k": 6
        case "fp8-e4m3", "mxfp8": 25
        case "fp8-e5m2", "mxfp6": 20
        case "mxint8": 30
        case "mxfp4": 12
        case "kmeans-3": 10
        case "binary": 3
        case "ternary": 6
        case let p where p.hasPrefix("int3"): 10
        default: 15  // 4-bit formats
        }
    }

    @Test func everyPresetRoundTrips() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let modelPath = try files.model()
        let original = try files.tensors(of: modelPath, dequantize: false)
        let model = try client.uploadModel(path: modelPath, name: "e2e")
        #expect(model.format == "safetensors" && model.tensorCount == 3)

        let jobs = try Preset.all.map { try client.submitJob(modelID: model.id, preset: $0.name, name: $0.name) }
        #expect(Set(jobs.map(\.id)).count == Preset.all.count)
        for (preset, submitted) in zip(Preset.all, jobs) {
            let job = try client.waitForJob(submitted.id, initialInterval: 0.05)
            let summary = try #require(job.summary, "\(preset.name): no summary")
            let artifact = files.path("\(preset.name).artifact")
            let info = try client.downloadArtifact(ofJob: job.id, to: artifact)
            let size = try FileManager.default.attributesOfItem(atPath: artifact)[.size] as? Int64
            #expect(size == info.size, "\(preset.name)")

            let restored = try files.tensors(of: artifact, dequantize: true)
            #expect(Set(restored.keys) == Set(original.keys), "\(preset.name): tensors \(restored.keys.sorted())")
            var weightSQNRs: [Double] = []
            for (name, values) in original {
                let back = try #require(restored[name], "\(preset.name): \(name) missing")
                #expect(back.count == values.count, "\(preset.name): \(name)")
                let sqnr = Fixtures.sqnr(values, back)
                if name.hasSuffix(".weight") {
                    weightSQNRs.append(sqnr)
                    #expect(sqnr >= Self.floor(preset.name), "\(preset.name): \(name) SQNR \(sqnr) dB")
                } else {
                    #expect(sqnr == .infinity, "\(preset.name): \(name) should be kept exactly, SQNR \(sqnr)")
                }
            }
            // The server's numbers agree with what the client measures on the downloaded file.
            if let minimum = summary.minSqnrDb, let measured = weightSQNRs.min() {
                #expect(abs(minimum - measured) < 0.05, "\(preset.name): server says \(minimum) dB, measured \(measured) dB")
            }
            let report = try client.report(ofJob: job.id)
            #expect(report.tensors.count == 3, "\(preset.name)")
        }
    }
}

@Suite("End to end: compressed-tensors")
struct CompressedTensorsEndToEndTests {
    /// The weights and the config.json fragment both come down, and the fragment names the layout.
    @Test func weightsAndConfigFragment() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let model = try client.uploadModel(path: try files.model())
        let recipe = #"{"preset": "int4-g128", "weights": {"group_size": 64}, "output": {"format": "compressed-tensors"}}"#
        let job = try client.waitForJob(try client.submitJob(modelID: model.id, recipeJSON: recipe).id, initialInterval: 0.05)
        let fragment = try #require(try client.artifactConfig(ofJob: job.id))
        let config = try #require(try JSONSerialization.jsonObject(with: Data(fragment.utf8)) as? [String: Any])
        let quantization = try #require(config["quantization_config"] as? [String: Any])
        #expect(quantization["format"] as? String == "pack-quantized")
        let path = files.path("ct.safetensors")
        try client.downloadArtifact(ofJob: job.id, to: path)
        let names = try SafetensorsFile(path: path).tensors.map(\.name)
        #expect(
            names.contains("layers.0.weight_packed") && names.contains("layers.0.weight_scale")
                && names.contains("layers.0.weight_shape"))
        // Another format has no fragment.
        let plain = try client.waitForJob(try client.submitJob(modelID: model.id, preset: "int8").id, initialInterval: 0.05)
        #expect(try client.artifactConfig(ofJob: plain.id) == nil)
    }
}
