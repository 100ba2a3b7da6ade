import QuantTesting
import Testing

@testable import QuantCore

@Suite("Fixed point: power-of-two scales")
struct FixedPointTests {
    @Test func scalesArePowersOfTwoAtOrAboveMinMax() throws {
        var rng = SplitMix64(seed: 8)
        for symmetric in [true, false] {
            let scheme = try LinearScheme(bits: 8, symmetric: symmetric, granularity: .channel(axis: 0), powerOfTwoScales: true)
            let plain = try LinearScheme(bits: 8, symmetric: symmetric, granularity: .channel(axis: 0))
            let mins = (0..<500).map { _ in -Float(rng.next() % 100_000) / 1000 }
            let maxs = (0..<500).map { _ in Float(rng.next() % 100_000) / 1000 }
            let fixed = LinearParameters.from(mins: mins, maxs: maxs, scheme: scheme)
            let free = LinearParameters.from(mins: mins, maxs: maxs, scheme: plain)
            for (p, f) in zip(fixed.scales, free.scales) {
                #expect(p.significandBitPattern == 0, "\(p) is not a power of two")
                #expect(p >= f && p < 2 * f, "\(p) vs \(f)")  // never clips, at most one bit lost
            }
        }
    }

    @Test func qFormats() throws {
        let signed = try LinearScheme(bits: 8, symmetric: true, granularity: .tensor, powerOfTwoScales: true)
        #expect(signed.fixedPointFormat(scale: 1.0 / 64) == "Q1.6")  // int8 x 2^-6: range about +-2
        #expect(signed.fixedPointFormat(scale: 1.0 / 128) == "Q0.7")
        #expect(signed.fixedPointFormat(scale: 2) == "Q8.-1")
        #expect(signed.fixedPointFormat(scale: 0.3) == nil)
        let unsigned = try LinearScheme(bits: 4, symmetric: false, granularity: .tensor, powerOfTwoScales: true)
        #expect(unsigned.fixedPointFormat(scale: 0.25) == "Q2.2")
    }

    @Test func recipeAndPreset() throws {
        let spec = try Recipe.parse(#"{"preset": "int8-pow2"}"#).weights
        #expect(spec.scheme?.powerOfTwoScales == true)
        #expect(
            try Recipe.parse(#"{"weights": {"bits": 4, "scale_constraint": "power_of_two"}}"#).weights.scheme?.powerOfTwoScales
                == true)
        #expect(throws: RecipeError.self) { _ = try Recipe.parse(#"{"weights": {"scale_constraint": "pow2"}}"#) }
        #expect(spec.json.objectValue?["scale_constraint"]?.stringValue == "power_of_two")
    }
}

@Suite("Two-level scales")
struct TwoLevelScaleTests {
    @Test func integerGroupScalesNeverShrinkTheRange() throws {
        var rng = SplitMix64(seed: 12)
        for symmetric in [true, false] {
            let scheme = try LinearScheme(bits: 4, symmetric: symmetric, granularity: .group(size: 16), groupScaleBits: 8)
            let rows = 7
            let groups = 9
            let mins = (0..<(rows * groups)).map { _ in -Float(rng.next() % 100_000) / 10_000 }
            let maxs = (0..<(rows * groups)).map { _ in Float(rng.next() % 100_000) / 10_000 }
            let raw = LinearParameters.from(mins: mins, maxs: maxs, scheme: scheme)
            let (two, supers, codes) = LinearParameters.twoLevel(
                raw, mins: mins, scheme: scheme, rows: rows, groups: groups, scaleBits: 8)
            for row in 0..<rows {
                let largest = raw.scales[(row * groups)..<((row + 1) * groups)].max()!
                #expect(supers[row] == largest / 255)
                for g in 0..<groups {
                    let i = row * groups + g
                    #expect((1...255).contains(codes[i]))
                    #expect(two.scales[i] == supers[row] * Float(codes[i]))
                    // Never smaller than the one-level scale (up to float rounding), at most one step more.
                    #expect(two.scales[i] >= raw.scales[i] * (1 - 1e-6) && two.scales[i] <= raw.scales[i] + supers[row] * 1.0001)
                }
            }
            #expect((two.zeroPoints == nil) == symmetric)
        }
    }

    @Test func recipeRules() throws {
        #expect(try Recipe.parse(#"{"preset": "int4-g16-2level"}"#).weights.scheme?.groupScaleBits == 8)
        do {
            _ = try Recipe.parse(#"{"weights": {"bits": 4, "granularity": "channel", "scale_bits": 8}}"#)
            Issue.record("two-level scales need groups")
        } catch let error as RecipeError {
            #expect(error.field == "weights.scale_bits")
        }
        #expect(throws: RecipeError.self) { _ = try Recipe.parse(#"{"weights": {"granularity": "group", "scale_bits": 1}}"#) }
    }
}
