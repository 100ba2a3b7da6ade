/// Rounding of `x * (1/scale)` to integer codes.
public enum RoundingMethod: Equatable, Sendable {
    /// Round half to even (the kernels).
    case nearest
    /// floor(v + u) with u uniform in [0, 1): unbiased in expectation. `u` is a hash of the seed,
    /// the tensor and the element's index, so results do not depend on chunking or threads.
    case stochastic(seed: UInt64)
    /// AdaRound: rounding up or down learned per weight against the layer's calibration inputs
    /// (`AdaRound`). Tensors without calibration data round to nearest.
    case adaround(iterations: Int, datasetID: String)

    public var name: String {
        switch self {
        case .nearest: "nearest"
        case .stochastic: "stochastic"
        case .adaround: "adaround"
        }
    }
}

enum StochasticRounding {
    /// FNV-1a: a stable per-tensor salt (Swift's hashValue changes from run to run).
    static func salt(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    /// A uniform value in [0, 1) for element `index` (SplitMix64's finaliser over a counter).
    @inline(__always)
    static func uniform(_ key: UInt64, _ index: Int) -> Float {
        var z = key &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) * 0x1p-24
    }

    /// Codes for rows x cols values; `scaleOf(row, col)` gives each value's scale index; element
    /// (r, c) has global index `firstElement + r * cols + c`.
    static func quantize(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, inverseScales: [Float], zeroPoints: [Int32]?, qmin: Int32,
        qmax: Int32,
        key: UInt64, firstElement: Int, scaleOf: (Int, Int) -> Int, into out: UnsafeMutableBufferPointer<UInt8>
    ) {
        for r in 0..<rows {
            for c in 0..<cols {
                let i = r * cols + c
                let s = scaleOf(r, c)
                let zero = zeroPoints?[s] ?? 0
                let v = x[i] * inverseScales[s] + uniform(key, firstElement + i)
                let q = Swift.min(Swift.max(Int32(v.rounded(.down)) &+ zero, qmin), qmax)
                out[i] = UInt8(truncatingIfNeeded: q)
            }
        }
    }
}
