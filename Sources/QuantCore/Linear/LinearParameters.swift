/// Scales and zero points computed from ranges, with the edge cases decided once:
/// - a range of zero (all-zero or, for symmetric, nothing but zeros) gets scale 1: every code is
///   the zero point and reconstruction is exact;
/// - a scale below the smallest normal fp32 is raised to it, so 1/scale stays finite and the
///   kernels never see Inf (values that small reconstruct within scale / 2 all the same).
public struct LinearParameters: Equatable, Sendable {
    public var scales: [Float]
    /// Nil for symmetric schemes.
    public var zeroPoints: [Int32]?

    public var inverseScales: [Float] { scales.map { 1 / $0 } }

    /// `store` maps a computed scale to the value it will have once stored (e.g. rounded to fp16);
    /// zero points are derived from the stored scale.
    public static func from(
        mins: [Float], maxs: [Float], scheme: LinearScheme, store: (Float) -> Float = { $0 }
    ) -> LinearParameters {
        var scales = [Float](repeating: 1, count: mins.count)
        var zeroPoints: [Int32]? = scheme.symmetric ? nil : [Int32](repeating: 0, count: mins.count)
        for i in mins.indices {
            let (scale, zero) = single(min: mins[i], max: maxs[i], scheme: scheme, store: store)
            scales[i] = scale
            zeroPoints?[i] = zero
        }
        return LinearParameters(scales: scales, zeroPoints: zeroPoints)
    }

    /// The scale and zero point (0 when symmetric) of one range, without allocating: the search of
    /// `mse` clipping calls it 20 times per group.
    @inline(__always)
    static func single(min: Float, max: Float, scheme: LinearScheme, store: (Float) -> Float = { $0 }) -> (
        scale: Float, zero: Int32
    ) {
        func constrain(_ scale: Float) -> Float { scheme.powerOfTwoScales ? powerOfTwoAtLeast(scale) : scale }
        if scheme.symmetric {
            let absMax = Swift.max(-min, max, 0)
            return (store(constrain(sanitize(absMax / Float(scheme.qmax)))), 0)
        }
        let lo = Swift.min(min, 0)
        let hi = Swift.max(max, 0)
        let scale = store(constrain(sanitize((hi - lo) / Float(scheme.qmax - scheme.qmin))))
        let zero = (-lo / scale).rounded(.toNearestOrEven)
        return (scale, Int32(Swift.min(Swift.max(zero, Float(scheme.qmin)), Float(scheme.qmax))))
    }

    /// Two-level scales for `rows` rows of `groups` group scales each: per row, a super-scale
    /// S = max(s_g) / (2^scaleBits - 1) and integers q_g = ceil(s_g / S) in [1, 2^scaleBits - 1], so
    /// the effective scale S x q_g is never below s_g (nothing is clipped that was not before).
    /// Zero points are recomputed for the effective scales. Returns those parameters, S per row and q.
    public static func twoLevel(
        _ parameters: LinearParameters, mins: [Float], scheme: LinearScheme, rows: Int, groups: Int, scaleBits: Int
    ) -> (parameters: LinearParameters, superScales: [Float], codes: [UInt8]) {
        let levels = Float((1 << scaleBits) - 1)
        var result = parameters
        var supers = [Float](repeating: 1, count: rows)
        var codes = [UInt8](repeating: 1, count: rows * groups)
        for row in 0..<rows {
            let range = (row * groups)..<((row + 1) * groups)
            let largest = parameters.scales[range].max() ?? 1
            let superScale = sanitize(largest / levels)
            supers[row] = superScale
            for i in range {
                let q = Swift.min(Swift.max((parameters.scales[i] / superScale).rounded(.up), 1), levels)
                codes[i] = UInt8(q)
                result.scales[i] = superScale * q
                if scheme.symmetric { continue }
                let lo = Swift.min(mins[i], 0)
                let zero = (-lo / result.scales[i]).rounded(.toNearestOrEven)
                result.zeroPoints?[i] = Int32(Swift.min(Swift.max(zero, Float(scheme.qmin)), Float(scheme.qmax)))
            }
        }
        return (result, supers, codes)
    }

    /// The smallest power of two at or above `scale` (a positive normal number).
    static func powerOfTwoAtLeast(_ scale: Float) -> Float {
        let floor = Float(sign: .plus, exponent: scale.exponent, significand: 1)
        return floor == scale ? scale : floor * 2
    }

    static func sanitize(_ scale: Float) -> Float {
        guard scale.isFinite, scale > 0 else { return 1 }
        return Swift.max(scale, Float.leastNormalMagnitude)
    }
}
