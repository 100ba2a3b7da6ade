import ModelFormats
import QuantTesting
import Testing

@testable import QuantCore

/// `method: float` and `method: mx`: the scalar references, their recipes and presets.
@Suite("fp8 and MX methods")
struct MiniFloatMethodTests {
    @Test func sharedExponentFollowsTheSpec() {
        #expect(MXQuantizer.sharedExponent(amax: 1, element: .fp8) == -8)
        #expect(MXQuantizer.sharedExponent(amax: 1.99, element: .fp4) == -2)
        #expect(MXQuantizer.sharedExponent(amax: 2, element: .fp4) == -1)
        #expect(MXQuantizer.sharedExponent(amax: 6, element: .int8) == 2)
        #expect(MXQuantizer.sharedExponent(amax: 0, element: .fp8) == -127)
        #expect(MXQuantizer.sharedExponent(amax: .greatestFiniteMagnitude, element: .fp4) == 125)
        #expect(MXQuantizer.sharedExponent(amax: .leastNonzeroMagnitude, element: .fp8) == -127)  // 2^-149 - 8, clamped
    }

    /// Every element of a block lands within half a step of its value (or saturates at the top),
    /// for random blocks spanning many magnitudes and every element format.
    @Test(arguments: MXElement.allCases)
    func blocksRoundTripWithinHalfAStep(element: MXElement) {
        var rng = SplitMix64(seed: 21)
        for trial in 0..<200 {
            let magnitude = Float(sign: .plus, exponent: Int(rng.next() % 60) - 30, significand: 1)
            var block = (0..<32).map { _ in (Float(rng.next() % 20_001) / 10_000 - 1) * magnitude }
            if trial % 7 == 0 { block[3] = 0 }
            var codes = [UInt8](repeating: 0, count: 32)
            var back = [Float](repeating: 0, count: 32)
            let scaleCode = block.withUnsafeBufferPointer { x in
                codes.withUnsafeMutableBufferPointer { c in
                    back.withUnsafeMutableBufferPointer { r in
                        MXQuantizer.quantize(x, element: element, codes: c, reconstructed: r)
                    }
                }
            }
            let scale = E8M0.decode(scaleCode)
            let amax = block.map(\.magnitude).max() ?? 0
            // The largest value needs the element's top binade: not more than 2x its max finite.
            #expect(amax / scale < 2 * Float(1 << element.emax) + 1e-3, "trial \(trial)")
            for (x, y) in zip(block, back) {
                guard x != 0 else {
                    #expect(y == 0)
                    continue
                }
                // The element step near |x / scale|: 2^(its binade - mantissa bits), no finer than the
                // subnormal step; MXINT8's is 2^-6. Saturated values may be off by more.
                let v = (x / scale).magnitude
                let step: Float
                if let format = element.format {
                    let binade = Swift.max(Int(v.exponent), 1 - format.bias)
                    step = Float(sign: .plus, exponent: binade - format.mantissaBits, significand: 1)
                    if v >= format.maxFinite { continue }
                } else {
                    step = 1.0 / 64
                    if v >= 127.0 / 64 { continue }
                }
                #expect((x - y).magnitude <= scale * step / 2 * 1.0001, "trial \(trial): \(x) -> \(y)")
            }
        }
    }

    @Test func mxint8IsSymmetric() {
        #expect(MXElement.int8.encode(1.999) == 127)
        #expect(MXElement.int8.encode(-1.999) == UInt8(bitPattern: -127))
        #expect(MXElement.int8.encode(0.0078125) == 0)  // half a step ties to even (0)
        #expect(MXElement.int8.decode(64) == 1)
    }

    @Test func fp8ScaleMapsTheMaximumOntoTheTopCode() {
        let scale = ScaledFloatTensorEncoder.scale(amax: 10, element: .e4m3)
        #expect(scale == Float(10) / 448)
        #expect(FloatElement.e4m3.format.encodeSaturating(10 / scale) == 0x7E)
        #expect(ScaledFloatTensorEncoder.scale(amax: 0, element: .e5m2) == 1)
    }

    @Test func recipesAndPresets() throws {
        let float = try Recipe.parse(#"{"weights": {"method": "float", "format": "fp8-e5m2", "granularity": "tensor"}}"#).weights
        #expect(float == .float(.init(element: .e5m2, perChannel: false)))
        // channel by default
        #expect(try Recipe.parse(#"{"weights": {"method": "float"}}"#).weights == .float(.init(element: .e4m3, perChannel: true)))
        let mx = try Recipe.parse(#"{"weights": {"method": "mx", "format": "mxfp6-e3m2"}}"#).weights
        #expect(mx == .mx(.fp6E3M2))
        for bad in [
            #"{"weights": {"method": "mx"}}"#, #"{"weights": {"method": "mx", "format": "mxfp5"}}"#,
            #"{"weights": {"method": "float", "format": "fp8-e4m3", "granularity": "group"}}"#,
            #"{"weights": {"method": "float", "bits": 8}}"#,
            #"{"weights": {"method": "mx", "format": "mxfp4", "group_size": 16}}"#,
        ] {
            #expect(throws: RecipeError.self, "\(bad)") { _ = try Recipe.parse(bad) }
        }
        for name in ["fp8-e4m3", "fp8-e5m2", "mxfp8", "mxfp6", "mxfp4", "mxint8"] {
            #expect(Preset.named(name) != nil, "\(name)")
            #expect(throws: Never.self) { _ = try Recipe.preset(name) }
        }
        #expect(MXElement.fp4.bitsPerWeight == 4.25)
    }
}
