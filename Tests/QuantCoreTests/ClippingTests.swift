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
            let u1 = Float(rng.next() % 1_000_000 + 1) / 1_000_001, u2 = Float(rng.next() % 1_000_000) / 1_000_000
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
            let plain = try metrics(LinearScheme(bits: bits, symmetric: symmetric, granularity: granularity), x, shape: [64, 256])
            let mse = try metrics(LinearScheme(bits: bits, symmetric: symmetric, granularity: granularity, clipping: .mse(steps: 20)), x, shape: [64, 256])
            #expect(mse.sumSquaredError <= plain.sumSquaredError, "\(granularity) \(bits) bits")
            // Strictly better here; by a clear margin when symmetric (asymmetric ranges already fit the
            // outliers' side better, so there is less to win).
            #expect(mse.sqnrDB > plain.sqnrDB + (symmetric ? 0.5 : 0.05), "\(granularity) \(bits) bits: \(mse.sqnrDB) vs \(plain.sqnrDB)")
        }
    }

    @Test func percentileKeepsThatShareOfValues() throws {
        let scheme = try LinearScheme(bits: 8, symmetric: true, granularity: .channel(axis: 0), clipping: .percentile(99))
        let x = (0..<1000).map { Float($0 % 100) - 49.5 } + [1000]  // one outlier in the row
        var mins: [Float] = [-49.5], maxs: [Float] = [1000]
        x.withUnsafeBufferPointer { scheme.clip($0, rows: 1, cols: x.count, group: x.count, mins: &mins, maxs: &maxs) }
        #expect(maxs[0] < 50 && maxs[0] > 48 && mins[0] == -maxs[0])
        #expect(LinearScheme.quantile([1, 2, 3, 4], 0.5) == 2.5)
    }

    @Test func clippingNeedsRowLocalScales() {
        #expect(throws: QuantError.self) { try LinearScheme(bits: 4, symmetric: true, granularity: .tensor, clipping: .mse(steps: 10)) }
        #expect(throws: QuantError.self) { try LinearScheme(bits: 4, symmetric: true, granularity: .channel(axis: 1), clipping: .percentile(99)) }
        #expect(throws: QuantError.self) { try LinearScheme(bits: 4, symmetric: true, granularity: .group(size: 8), clipping: .percentile(30)) }
    }

    @Test func presetsParse() throws {
        let recipe = try Recipe.preset("int4-g128-mse")
        #expect(recipe.weights.scheme?.clipping == .mse(steps: 20))
        #expect(try Recipe.parse(#"{"preset": "int8", "weights": {"clipping": {"method": "percentile", "percentile": 99.9}}}"#).weights.scheme?.clipping == .percentile(99.9))
    }
}
