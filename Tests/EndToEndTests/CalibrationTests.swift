import Foundation
import ModelFormats
import QuantAPI
import QuantClient
import QuantCore
import QuantTesting
import Testing

/// Calibration through a live server: a dataset uploaded with the client, then static and dynamic
/// activations, AdaRound and GPTQ jobs; artifacts downloaded and read, reports checked.
@Suite("End to end: calibration datasets")
struct CalibrationEndToEndTests {
    /// `layers.{i}.input` for the fixture model (cols inputs each), correlated like real activations.
    static func dataset(_ files: Fixtures, layers: Int, cols: Int, samples: Int = 128, features: Int? = nil) throws -> String {
        let path = files.path("dataset-\(features ?? cols).safetensors")
        var rng = SplitMix64(seed: 3)
        let specs = (0..<layers).map { TensorSpec(name: "layers.\($0).input", dtype: .f32, shape: [samples, features ?? cols]) }
        let writer = try SafetensorsWriter(path: path, tensors: specs)
        for spec in specs {
            let width = spec.shape[1]
            let basis = (0..<(8 * width)).map { _ in Float(rng.next() % 2000) / 1000 - 1 }
            var values = [Float]()
            for _ in 0..<samples {
                let z = (0..<8).map { _ in Float(rng.next() % 2000) / 1000 - 1 }
                for c in 0..<width { values.append(max(0, (0..<8).reduce(Float(0)) { $0 + z[$1] * basis[$1 * width + c] })) }
            }
            try writer.write(try FloatCodec.fromFloat32(.f32, values))
        }
        try writer.finish()
        return path
    }

    static func recipe(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func staticDynamicAdaRoundAndGPTQJobs() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let model = try client.uploadModel(path: try files.model(layers: 2, rows: 64, cols: 256), name: "mlp")
        let dataset = try client.uploadDataset(path: try Self.dataset(files, layers: 2, cols: 256), name: "activations")
        #expect(dataset.tensorCount == 2)
        let shown = try client.dataset(dataset.id)
        #expect(
            shown.layers?.map(\.name) == ["layers.0", "layers.1"] && shown.layers?.first?.features == 256
                && shown.layers?.first?.samples == 128)
        #expect(try client.datasets().map(\.id) == [dataset.id])

        let jobs: [(String, String)] = [
            (
                "static",
                try Self.recipe([
                    "preset": "int8", "activations": ["mode": "static", "dataset_id": dataset.id, "calibrator": "kl"],
                ])
            ),
            ("dynamic", try Self.recipe(["preset": "int8", "activations": ["mode": "dynamic", "dataset_id": dataset.id]])),
            (
                "adaround",
                try Self.recipe([
                    "preset": "int4-g128",
                    "weights": ["rounding": ["method": "adaround", "dataset_id": dataset.id, "iterations": 200]],
                ])
            ),
            (
                "gptq",
                try Self.recipe([
                    "weights": [
                        "method": "gptq", "bits": 4, "granularity": "group", "group_size": 64, "dataset_id": dataset.id,
                        "act_order": true,
                    ]
                ])
            ),
        ]
        for (kind, recipe) in jobs {
            let submitted = try client.submitJob(modelID: model.id, recipeJSON: recipe, name: kind)
            #expect(submitted.datasetId == dataset.id, "\(kind)")
            let job = try client.waitForJob(submitted.id, initialInterval: 0.05)
            #expect(job.status == "succeeded", "\(kind): \(String(describing: job.error))")
            let artifact = files.path("\(kind).safetensors")
            _ = try client.downloadArtifact(ofJob: job.id, to: artifact)
            let file = try SafetensorsFile(path: artifact)
            let names = Set(file.header.tensors.map(\.name))
            #expect(names.contains("layers.0.input_scale") == (kind == "static"), "\(kind): \(names.sorted())")
            let report = try client.report(ofJob: job.id)
            let layers = report.tensors.compactMap { t in t.calibration.map { (t.name, $0) } }
            #expect(layers.map(\.0) == ["layers.0.weight", "layers.1.weight"], "\(kind)")
            for (name, calibration) in layers {
                #expect(calibration.samples == 128)
                #expect(
                    calibration.rounding == ["adaround": "adaround", "gptq": "gptq"][kind, default: "nearest"], "\(kind) \(name)")
                #expect(
                    (calibration.outputSqnrDb?.w8a8Dynamic ?? 0) > 25 && (calibration.outputSqnrDb?.w8a8Static ?? 0) > 10,
                    "\(kind) \(name)")
                #expect((calibration.int8Speedup ?? 0) > 0)
                if kind == "adaround" || kind == "gptq" {
                    #expect(
                        (calibration.outputSqnrDb?.weightOnly ?? 0) > (calibration.outputSqnrDb?.weightOnlyNearest ?? .infinity),
                        "\(kind) \(name)")
                }
            }
            // The artifact dequantizes like any linear one.
            let restored = try files.tensors(of: artifact, dequantize: true)
            #expect(restored["layers.0.weight"]?.count == 64 * 256)
        }
        // A dataset in use by a finished job can be deleted; the job keeps its artifact.
        try client.deleteDataset(dataset.id)
        #expect(try client.datasets().isEmpty)
    }

    /// A K-quant job with the dataset as its importance matrix (llama.cpp's imatrix): the report marks
    /// the weighted layers, the GGUF artifact dequantizes, and each layer's output on the dataset's
    /// own inputs is closer to fp32 than the same preset's without the dataset.
    @Test func kQuantJobsTakeTheDatasetAsAnImportanceMatrix() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let modelPath = try files.model(layers: 2, rows: 64, cols: 256)
        let datasetPath = try Self.dataset(files, layers: 2, cols: 256)
        let model = try client.uploadModel(path: modelPath, name: "mlp")
        let dataset = try client.uploadDataset(path: datasetPath, name: "activations")
        let original = try files.tensors(of: modelPath, dequantize: false)
        let inputs = try files.tensors(of: datasetPath, dequantize: false)
        var sqnr: [String: [Double]] = [:]
        for (kind, recipe) in [
            ("plain", ["preset": "q4_k"] as [String: Any]),
            ("weighted", ["preset": "q4_k", "weights": ["dataset_id": dataset.id]]),
        ] {
            let submitted = try client.submitJob(modelID: model.id, recipeJSON: try Self.recipe(recipe), name: kind)
            let job = try client.waitForJob(submitted.id, initialInterval: 0.05)
            #expect(job.status == "succeeded", "\(kind): \(String(describing: job.error))")
            let report = try client.report(ofJob: job.id)
            let labels = report.tensors.compactMap(\.calibration).map { $0.rounding ?? "none" }
            if kind == "weighted" {
                #expect(labels.count == 2 && labels.allSatisfy { $0.hasPrefix("importance-weighted") }, "\(labels)")
            } else {
                #expect(labels.isEmpty, "\(labels)")
            }
            let artifact = files.path("\(kind).gguf")
            _ = try client.downloadArtifact(ofJob: job.id, to: artifact)
            let restored = try files.tensors(of: artifact, dequantize: true)
            sqnr[kind] = try (0..<2).map { layer in
                let w = try #require(original["layers.\(layer).weight"])
                let q = try #require(restored["layers.\(layer).weight"])
                let x = try #require(inputs["layers.\(layer).input"])
                var signal = 0.0
                var noise = 0.0
                for sample in 0..<128 {
                    for row in 0..<64 {
                        var exact = 0.0
                        var quantized = 0.0
                        for c in 0..<256 {
                            exact += Double(x[sample * 256 + c]) * Double(w[row * 256 + c])
                            quantized += Double(x[sample * 256 + c]) * Double(q[row * 256 + c])
                        }
                        signal += exact * exact
                        noise += (exact - quantized) * (exact - quantized)
                    }
                }
                return 10 * log10(signal / noise)
            }
        }
        let plain = try #require(sqnr["plain"])
        let weighted = try #require(sqnr["weighted"])
        for layer in 0..<2 { #expect(weighted[layer] > plain[layer], "layer \(layer): \(plain) -> \(weighted)") }
    }

    @Test func datasetErrorsSayWhatToFix() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let model = try client.uploadModel(path: try files.model(layers: 2, rows: 64, cols: 256), name: "mlp")
        // Features that do not fit layers.0 (256 inputs): a 422 naming the layer.
        let wrong = try client.uploadDataset(path: try Self.dataset(files, layers: 1, cols: 256, features: 100))
        let recipe = try Self.recipe(["weights": ["method": "gptq", "bits": 4, "dataset_id": wrong.id]])
        do {
            _ = try client.submitJob(modelID: model.id, recipeJSON: recipe)
            Issue.record("a mismatched dataset was accepted")
        } catch ClientError.problem(let problem) {
            #expect(problem.status == 422)
            #expect(problem.detail.contains("layers.0") && problem.detail.contains("100 features"), "\(problem)")
        }
        // An unknown dataset id: 404.
        do {
            _ = try client.submitJob(
                modelID: model.id,
                recipeJSON: try Self.recipe(["preset": "int8", "activations": ["mode": "static", "dataset_id": "ds_nope"]]))
            Issue.record("an unknown dataset was accepted")
        } catch ClientError.problem(let problem) {
            #expect(problem.status == 404)
        }
        // Not a dataset: a model file without `<layer>.input` tensors.
        do {
            _ = try client.uploadDataset(path: try files.model())
            Issue.record("a model was accepted as a dataset")
        } catch ClientError.problem(let problem) {
            #expect(problem.status == 422 && problem.detail.contains(".input"), "\(problem)")
        }
        // Another tenant cannot see or use it.
        let other = try server.client(key: try server.createKey(tenant: "other"))
        #expect(throws: ClientError.self) { _ = try other.dataset(wrong.id) }
    }
}
