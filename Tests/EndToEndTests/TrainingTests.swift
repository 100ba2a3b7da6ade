import Foundation
import ModelFormats
import QuantAPI
import QuantClient
import QuantCore
import QuantTesting
import Testing

/// QAT through a live server: a feed-forward model and training data uploaded with the client, a
/// `qat` job run to the end, its artifact, report and per-epoch metrics checked; then what is out of
/// scope, refused with a 422 that names the field.
@Suite("End to end: quantization-aware training")
struct TrainingEndToEndTests {
    static let features = 16, hidden = 32, classes = 3

    /// An MLP 16-32-32-3 with small random weights (ReLU, softmax cross-entropy in its metadata).
    static func model(_ files: Fixtures) throws -> String {
        let path = files.path("mlp.safetensors")
        var rng = SplitMix64(seed: 11)
        let shapes = [(hidden, features), (hidden, hidden), (classes, hidden)]
        var specs: [TensorSpec] = []
        for (i, shape) in shapes.enumerated() {
            specs.append(TensorSpec(name: "layers.\(i).weight", dtype: .f32, shape: [shape.0, shape.1]))
            specs.append(TensorSpec(name: "layers.\(i).bias", dtype: .f32, shape: [shape.0]))
        }
        let writer = try SafetensorsWriter(
            path: path, tensors: specs, metadata: [("activation", "relu"), ("loss", "softmax_cross_entropy")])
        for (out, inputs) in shapes {
            let bound = 1 / Float(inputs).squareRoot()
            try writer.write(
                try FloatCodec.fromFloat32(
                    .f32, (0..<(out * inputs)).map { _ in (Float(rng.next() % 20_000) / 10_000 - 1) * bound }))
            try writer.write(try FloatCodec.fromFloat32(.f32, [Float](repeating: 0, count: out)))
        }
        try writer.finish()
        return path
    }

    /// Three Gaussian blobs in 16 dimensions: x [600, 16] F32, y [600] I64.
    static func data(_ files: Fixtures) throws -> String {
        let path = files.path("blobs.safetensors")
        var rng = SplitMix64(seed: 12)
        func uniform() -> Float { Float(rng.next() % 20_000) / 10_000 - 1 }
        let centres = (0..<classes).map { _ in (0..<features).map { _ in 2 * uniform() } }
        var x: [Float] = []
        var y: [Int64] = []
        for i in 0..<600 {
            let label = i % classes
            x += centres[label].map { $0 + 0.6 * uniform() }
            y.append(Int64(label))
        }
        let writer = try SafetensorsWriter(
            path: path,
            tensors: [
                TensorSpec(name: "x", dtype: .f32, shape: [600, features]), TensorSpec(name: "y", dtype: .i64, shape: [600]),
            ])
        try writer.write(try FloatCodec.fromFloat32(.f32, x))
        try writer.write(y.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * $0)) } })
        try writer.finish()
        return path
    }

    /// A live server with the MLP and its training data uploaded (the server must outlive the test).
    static func uploaded() throws -> (LiveServer, Fixtures, QuantClient, Model, Dataset) {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let model = try client.uploadModel(path: try model(files))
        let dataset = try client.uploadDataset(path: try data(files))
        return (server, files, client, model, dataset)
    }

    @Test func qatJobTrainsReportsEpochsAndExports() throws {
        let (server, files, client, model, dataset) = try Self.uploaded()
        defer { withExtendedLifetime(server) {} }  // the server runs until the test ends
        let training =
            #"{"dataset_id": "\#(dataset.id)", "epochs": 6, "batch_size": 16, "learning_rate": 0.01, "optimizer": "adam", "seed": 3}"#
        let submitted = try client.submitTrainingJob(
            modelID: model.id, recipeJSON: #"{"preset": "ternary"}"#, trainingJSON: training, name: "qat")
        #expect(submitted.kind == "qat" && submitted.datasetId == dataset.id)
        var fractions: [Double] = []
        let job = try client.waitForJob(submitted.id, initialInterval: 0.02) { fractions.append($0.progress.fraction) }
        #expect(job.status == "succeeded", "\(String(describing: job.error))")
        #expect(job.progress.total == 6 && job.progress.done == 6)
        #expect(fractions == fractions.sorted())

        let report = try client.report(ofJob: job.id)
        let epochs = try #require(report.training?.epochs)
        #expect(epochs.map(\.epoch) == Array(1...6))
        #expect(epochs.allSatisfy { ($0.validationAccuracy ?? -1) >= 0 && ($0.trainLoss ?? -1) >= 0 })
        let evaluation = try #require(report.training?.evaluation)
        #expect((evaluation.qatAccuracy ?? 0) > 0.9, "\(evaluation)")
        #expect(
            (evaluation.qatAccuracy ?? 0) > (evaluation.fp32Accuracy ?? 1),
            "training from random weights must learn: \(evaluation)")
        #expect(report.tensors.filter { $0.method == "ternary" }.count == 3)

        // The artifact holds only quantized weights in the post-training layout.
        let artifact = files.path("qat.safetensors")
        _ = try client.downloadArtifact(ofJob: job.id, to: artifact)
        let file = try SafetensorsFile(path: artifact)
        #expect(
            Set(file.header.tensors.map(\.name))
                == Set((0..<3).flatMap { ["layers.\($0).weight", "layers.\($0).weight.scale", "layers.\($0).bias"] }))
        let restored = try files.tensors(of: artifact, dequantize: true)
        // Ternary: every row takes at most three values.
        let row = Array(try #require(restored["layers.0.weight"]).prefix(Self.features))
        #expect(Set(row.map { abs($0) }).count <= 2)
    }

    @Test func outOfScopeRequestsNameTheField() throws {
        let (server, files, client, model, dataset) = try Self.uploaded()
        defer { withExtendedLifetime(server) {} }  // the server runs until the test ends
        let training = #"{"dataset_id": "\#(dataset.id)", "epochs": 2}"#
        func field(recipe: String, training: String, model modelID: String? = nil) -> (Int, String?, String) {
            do {
                _ = try client.submitTrainingJob(modelID: modelID ?? model.id, recipeJSON: recipe, trainingJSON: training)
                return (0, nil, "")
            } catch ClientError.problem(let problem) {
                return (problem.status, problem.field, problem.detail)
            } catch {
                return (-1, nil, "\(error)")
            }
        }
        let kmeans = field(recipe: #"{"preset": "kmeans-4"}"#, training: training)
        #expect(kmeans.0 == 422 && kmeans.1 == "weights.method" && kmeans.2.contains("linear"), "\(kmeans)")
        #expect(
            field(recipe: #"{"preset": "int4-g128"}"#, training: #"{"dataset_id": "\#(dataset.id)", "optimizer": "lion"}"#).1
                == "training.optimizer")
        #expect(field(recipe: #"{"preset": "int4-g128"}"#, training: #"{"epochs": 2}"#).1 == "training.dataset_id")
        // Not a feed-forward network: the preset fixture model (layers.N.weight without biases).
        let other = try client.uploadModel(path: try files.model())
        let shape = field(recipe: #"{"preset": "int8"}"#, training: training, model: other.id)
        #expect(shape.0 == 422 && shape.2.contains("feed-forward"), "\(shape)")
        // A calibration dataset is not training data.
        let calibration = try client.uploadDataset(
            path: try CalibrationEndToEndTests.dataset(files, layers: 1, cols: Self.features))
        let data = field(recipe: #"{"preset": "int8"}"#, training: #"{"dataset_id": "\#(calibration.id)"}"#)
        #expect(data.0 == 422 && data.2.contains("`x`"), "\(data)")
    }
}
