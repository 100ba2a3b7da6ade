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
        let levels = Float(scheme.qmax - scheme.qmin)
        let powerOfTwo = scheme.powerOfTwoScales
        func constrain(_ scale: Float) -> Float { powerOfTwo ? powerOfTwoAtLeast(scale) : scale }
        for i in mins.indices {
            if scheme.symmetric {
                let absMax = Swift.max(-mins[i], maxs[i], 0)
                scales[i] = store(constrain(sanitize(absMax / Float(scheme.qmax))))
            } else {
                let lo = Swift.min(mins[i], 0), hi = Swift.max(maxs[i], 0)
                let scale = store(constrain(sanitize((hi - lo) / levels)))
                scales[i] = scale
                let zero = (-lo / scale).rounded(.toNearestOrEven)
                zeroPoints![i] = Int32(Swift.min(Swift.max(zero, Float(scheme.qmin)), Float(scheme.qmax)))
            }
        }
        return LinearParameters(scales: scales, zeroPoints: zeroPoints)
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
