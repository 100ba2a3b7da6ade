import Foundation
import Int8Kernels
import QuantTesting
import Testing

@testable import QuantCore

@Suite("Range clipping")
struct ClippingTests {
    /// Gaussian weights with a few large outliers: where clipping pays.
    static func weights(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let u1 = Float(rng.next() % 1_000_000 + 1) / 1_000_001
            let u2 = Float(rng.next() % 1_000_000) / 1_000_000
            let gaussian = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
            return i % 97 == 0 ? gaussian * 12 : gaussian
        }
    }

    func metrics(_ scheme: LinearScheme, _ x: [Float], shape: [Int]) throws -> ErrorMetrics {
        let quantizer = LinearQuantizer(scheme: scheme)
        let q = try x.withUnsafeBufferPointer { try quantizer.quantize($0, shape: shape) }
        let r = try quantizer.dequantize(q)
        var m = ErrorMetrics()
        x.withUnsafeBufferPointer { a in r.withUnsafeBufferPointer { m.add(original: a, reconstructed: $0) } }
        return m
    }

    @Test(arguments: [(4, true), (3, true), (4, false)])
    func mseNeverLosesToMinMaxAndWinsOnOutliers(bits: Int, symmetric: Bool) throws {
        let x = Self.weights(64 * 256, seed: UInt64(bits))
        for granularity in [Granularity.group(size: 128), .channel(axis: 0)] {
            let plain = try metrics(
                LinearScheme(bits: bits, symmetric: symmetric, granularity: granularity), x, shape: [64, 256])
            let mse = try metrics(
                LinearScheme(bits: bits, symmetric: symmetric, granularity: granularity, clipping: .mse(steps: 20)), x,
                shape: [64, 256])
            #expect(mse.sumSquaredError <= plain.sumSquaredError, "\(granularity) \(bits) bits")
            // Strictly better here; by a clear margin when symmetric (asymmetric ranges already fit the
            // outliers' side better, so there is less to win).
            #expect(
                mse.sqnrDB > plain.sqnrDB + (symmetric ? 0.5 : 0.05),
                "\(granularity) \(bits) bits: \(mse.sqnrDB) vs \(plain.sqnrDB)")
        }
    }

    @Test func percentileKeepsThatShareOfValues() throws {
        let scheme = try LinearScheme(bits: 8, symmetric: true, granularity: .channel(axis: 0), clipping: .percentile(99))
        let x = (0..<1000).map { Float($0 % 100) - 49.5 } + [1000]  // one outlier in the row
        var mins: [Float] = [-49.5]
        var maxs: [Float] = [1000]
        x.withUnsafeBufferPointer { scheme.clip($0, rows: 1, cols: x.count, group: x.count, mins: &mins, maxs: &maxs) }
        #expect(maxs[0] < 50 && maxs[0] > 48 && mins[0] == -maxs[0])
        #expect(LinearScheme.quantile([1, 2, 3, 4], 0.5) == 2.5)
    }

    @Test func clippingNeedsRowLocalScales() {
        #expect(throws: QuantError.self) {
            try LinearScheme(bits: 4, symmetric: true, granularity: .tensor, clipping: .mse(steps: 10))
        }
        #expect(throws: QuantError.self) {
            try LinearScheme(bits: 4, symmetric: true, granularity: .channel(axis: 1), clipping: .percentile(99))
        }
        #expect(throws: QuantError.self) {
            try LinearScheme(bits: 4, symmetric: true, granularity: .group(size: 8), clipping: .percentile(30))
        }
    }

    @Test func presetsParse() throws {
        let recipe = try Recipe.preset("int4-g128-mse")
        #expect(recipe.weights.scheme?.clipping == .mse(steps: 20))
        #expect(
            try Recipe.parse(#"{"preset": "int8", "weights": {"clipping": {"method": "percentile", "percentile": 99.9}}}"#)
                .weights.scheme?.clipping == .percentile(99.9))
    }
}

@Suite("KL (entropy) clipping")
struct EntropyClippingTests {
    func gaussian(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            let u1 = (Double(rng.next() % 1_000_000) + 0.5) / 1_000_000
            let u2 = Double(rng.next() % 1_000_000) / 1_000_000
            return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    @Test func outliersAreClippedAndTheBulkKept() {
        var x = gaussian(50_000, seed: 1)
        x += [40, -35]
        let range = x.withUnsafeBufferPointer {
            EntropyCalibration.range(EntropyCalibration.Histogram($0, bins: 2048), quantizedBins: 128)
        }
        #expect(range.lower > -20 && range.upper < 20, "\(range)")
        #expect(range.lower < -2.5 && range.upper > 2.5, "\(range)")  // keeps well past 2 sigma
    }

    @Test func degenerateInputs() {
        let zeros = [Float](repeating: 0, count: 100)
        let range = zeros.withUnsafeBufferPointer {
            EntropyCalibration.range(EntropyCalibration.Histogram($0, bins: 512), quantizedBins: 128)
        }
        #expect(range.lower == 0 && range.upper == 0)
        let empty = [Float]().withUnsafeBufferPointer {
            EntropyCalibration.range(EntropyCalibration.Histogram($0, bins: 512), quantizedBins: 128)
        }
        #expect(empty.lower == 0 && empty.upper == 0)
    }

    @Test func numpyPairwiseSum() {
        let values = (0..<1000).map { Float($0) * 0.1 }
        #expect(abs(EntropyCalibration.pairwiseSum(values[...]) - 49950) < 0.05)
        #expect(EntropyCalibration.pairwiseSum([1, 2, 3][...]) == 6)
    }

    @Test func recipeAndPipelineRange() throws {
        let spec = try Recipe.parse(
            #"{"weights": {"bits": 8, "granularity": "channel", "clipping": {"method": "kl", "bins": 1024}}}"#
        ).weights
        #expect(spec.scheme?.clipping == .kl(bins: 1024))
        #expect(try Recipe.parse(#"{"weights": {"clipping": {"method": "kl"}}}"#).weights.scheme?.clipping == .kl(bins: 512))
        #expect(throws: RecipeError.self) { _ = try Recipe.parse(#"{"weights": {"clipping": {"method": "kl", "bins": 64}}}"#) }
        // Per channel: each row's range shrinks or stays, never grows.
        let scheme = try #require(spec.scheme)
        var x = gaussian(4 * 4096, seed: 2)
        x[5] = 30
        var mins = [Float](repeating: 0, count: 4)
        var maxs = mins
        for r in 0..<4 {
            mins[r] = x[(r * 4096)..<((r + 1) * 4096)].min()!
            maxs[r] = x[(r * 4096)..<((r + 1) * 4096)].max()!
        }
        let before = (mins, maxs)
        x.withUnsafeBufferPointer { scheme.clip($0, rows: 4, cols: 4096, group: 4096, mins: &mins, maxs: &maxs) }
        for r in 0..<4 { #expect(mins[r] >= before.0[r] && maxs[r] <= before.1[r]) }
        #expect(maxs[0] < 20, "the outlier row is clipped: \(maxs[0])")
    }
}
