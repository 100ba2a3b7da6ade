import Foundation
import ModelFormats
import QuantTesting
import Testing

@testable import QuantCore

@Suite("1-D k-means (weight sharing)")
struct KMeansTests {
    func histogram(_ values: [Float], bins: Int = 1 << 12) -> KMeansHistogram {
        var h = KMeansHistogram(minimum: values.min() ?? 0, maximum: values.max() ?? 0, bins: bins)
        values.withUnsafeBufferPointer { h.add($0) }
        return h
    }

    func sse(_ values: [Float], _ centroids: [Float]) -> Double {
        values.reduce(0) { total, v in total + Double(centroids.map { ($0 - v) * ($0 - v) }.min() ?? 0) }
    }

    @Test func findsSeparatedClusters() {
        var rng = SplitMix64(seed: 3)
        let centres: [Float] = [-3, -1, 0.5, 4]
        let values = (0..<4000).map { i in centres[i % 4] + (Float(rng.next() % 1000) / 1000 - 0.5) * 0.1 }
        let found = KMeans1D.centroids(histogram(values), k: 4)
        for (a, b) in zip(found, centres) { #expect(abs(a - b) < 0.01, "\(found)") }
    }

    /// Lloyd iterations only lower the error from the quantile start, and the result is a fixed
    /// point: one more assignment moves no value.
    @Test(arguments: [2, 3, 4, 6])
    func lloydImprovesOnQuantiles(bits: Int) {
        var rng = SplitMix64(seed: UInt64(bits))
        let values = (0..<20_000).map { _ in (0..<4).map { _ in Float(rng.next() % 10_000) / 10_000 - 0.5 }.reduce(0, +) * 2 }
        let h = histogram(values)
        let start = KMeans1D.centroids(h, k: 1 << bits, maxIterations: 0)
        let done = KMeans1D.centroids(h, k: 1 << bits)
        #expect(done == done.sorted())
        #expect(sse(values, done) <= sse(values, start) * 1.0001, "bits \(bits)")
        let again = KMeans1D.centroids(h, k: 1 << bits, maxIterations: 200)
        for (a, b) in zip(done, again) { #expect(abs(a - b) <= 1e-4) }
    }

    /// On Gaussian data, k-means is the Lloyd-Max quantizer, whose SQNR is known: 9.30 dB (2 bits),
    /// 14.62 dB (3 bits), 20.22 dB (4 bits) (Max 1960).
    @Test(arguments: [(2, 9.30), (3, 14.62), (4, 20.22)])
    func reachesLloydMaxOnGaussians(bits: Int, expected: Double) {
        var rng = SplitMix64(seed: 17)
        let values: [Float] = (0..<100_000).map { _ in
            let u1 = (Double(rng.next() % 1_000_000) + 0.5) / 1_000_000
            let u2 = Double(rng.next() % 1_000_000) / 1_000_000
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
        let centroids = KMeans1D.centroids(histogram(values, bins: 1 << 16), k: 1 << bits)
        let signal = values.reduce(0) { $0 + Double($1) * Double($1) }
        let sqnr = 10 * log10(signal / sse(values, centroids))
        #expect(abs(sqnr - expected) < 0.1, "\(bits) bits: \(sqnr) dB")
    }

    @Test func nearestMatchesBruteForce() {
        var rng = SplitMix64(seed: 9)
        let centroids = (0..<16).map { _ in Float(rng.next() % 2000) / 100 - 10 }.sorted()
        let midpoints = KMeans1D.midpoints(centroids)
        for _ in 0..<5000 {
            let x = Float(rng.next() % 3000) / 100 - 15
            let index = midpoints.withUnsafeBufferPointer { KMeans1D.nearest(x, midpoints: $0) }
            let best = centroids.map { abs($0 - x) }.min()!
            #expect(abs(centroids[index] - x) <= best + 1e-5)  // a midpoint itself may round either way
        }
    }

    @Test func degenerateInputs() {
        // Fewer distinct values than centroids, a constant tensor, and nothing at all.
        let few = KMeans1D.centroids(histogram([1, 1, 2, 2, 2]), k: 8)
        #expect(Set(few).isSubset(of: [1, 2]) && few.contains(1) && few.contains(2))
        #expect(KMeans1D.centroids(histogram([0.5, 0.5, 0.5]), k: 4) == [0.5, 0.5, 0.5, 0.5])
        #expect(KMeans1D.centroids(KMeansHistogram(minimum: 0, maximum: 0, bins: 16), k: 4) == [0, 0, 0, 0])
    }

    @Test func recipe() throws {
        let spec = try Recipe.parse(#"{"weights": {"method": "kmeans", "bits": 3, "granularity": "channel"}}"#).weights
        #expect(spec == .kmeans(.init(bits: 3, perChannel: true)))
        #expect(try Recipe.parse(#"{"preset": "kmeans-4"}"#).weights == .kmeans(.init(bits: 4, perChannel: false)))
        #expect(throws: RecipeError.self) { _ = try Recipe.parse(#"{"weights": {"method": "kmeans", "bits": 9}}"#) }
        #expect(throws: RecipeError.self) { _ = try Recipe.parse(#"{"weights": {"method": "kmeans", "group_size": 4}}"#) }
    }
}

@Suite("k-means assignment table")
struct KMeansAssignerTests {
    /// The table lookup gives exactly the binary search's index, inside and outside the range,
    /// on midpoints and next to them.
    @Test(arguments: [2, 3, 4, 8])
    func tableEqualsBinarySearch(bits: Int) {
        var rng = SplitMix64(seed: UInt64(bits) * 7)
        for _ in 0..<20 {
            var centroids = (0..<(1 << bits)).map { _ in Float(Int(rng.next() % 20_001) - 10_000) / 997 }.sorted()
            if bits == 2 { centroids[1] = centroids[0] }  // repeated centroids
            let midpoints = KMeans1D.midpoints(centroids)
            let assigner = KMeans1D.Assigner(centroids: centroids, minimum: centroids.first!, maximum: centroids.last!)
            var probes = (0..<2000).map { _ in Float(Int(rng.next() % 30_001) - 15_000) / 997 }
            for m in midpoints { probes += [m, m.nextUp, m.nextDown] }
            for x in probes {
                let expected = midpoints.withUnsafeBufferPointer { KMeans1D.nearest(x, midpoints: $0) }
                #expect(assigner.index(x) == expected, "x = \(x)")
            }
        }
    }
}

@Suite("k-means on degenerate tensors")
struct KMeansDegenerateTests {
    /// A constant tensor gives a codebook of one repeated value; quantizing it must not trap
    /// (it once did: a zero-width table made a NaN cell index).
    @Test func constantTensor() throws {
        let assigner = KMeans1D.Assigner(centroids: [1, 1, 1, 1], minimum: 1, maximum: 1)
        #expect(assigner.index(1) == 0 && assigner.index(5) == 3 && assigner.index(-5) == 0)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("km-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("c.safetensors").path
        let writer = try SafetensorsWriter(
            path: input,
            tensors: [
                TensorSpec(name: "c.weight", dtype: .f32, shape: [8, 32]),
                TensorSpec(name: "z.weight", dtype: .f32, shape: [4, 4]),
            ])
        try writer.write(try FloatCodec.fromFloat32(.f32, [Float](repeating: 1, count: 256)))
        try writer.write(try FloatCodec.fromFloat32(.f32, [Float](repeating: 0, count: 16)))
        try writer.finish()
        for granularity in ["tensor", "channel"] {
            let recipe = try Recipe.parse(#"{"weights": {"method": "kmeans", "bits": 4, "granularity": "\#(granularity)"}}"#)
            let report = try Pipeline.run(
                input: input, output: directory.appendingPathComponent("o-\(granularity)").path, recipe: recipe)
            #expect(
                report.tensors.allSatisfy { $0.metrics?.sqnrDB == .infinity || $0.metrics?.mse == 0 },
                "constant tensors reconstruct exactly")
        }
    }
}
