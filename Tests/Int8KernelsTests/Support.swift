import Int8Kernels
import QuantTesting
import Testing

/// Variants other than the reference (on this CPU).
var fastVariants: [Kernels] { Kernels.available.filter { $0.isa != .scalar } }

/// Random floats with the awkward cases mixed in: zeros of both signs, subnormals, exact ties.
func randomFloats(_ count: Int, _ rng: inout SplitMix64, scale: Float = 3) -> [Float] {
    (0..<count).map { _ in
        switch rng.next() % 16 {
        case 0: return 0
        case 1: return -0.0
        case 2: return Float.leastNonzeroMagnitude * Float(rng.next() % 1000)
        case 3: return Float(Int(rng.next() % 17) - 8) * 0.5  // halves: ties for unit scales
        default: return (Float(rng.next() % 2_000_001) / 1_000_000 - 1) * scale
        }
    }
}

/// Bit-for-bit equality that treats every NaN as equal to every NaN.
func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
}
