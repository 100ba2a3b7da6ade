import Int8Kernels

/// A layer's static input quantization: x_q = clamp(round(x / scale) + zero_point, -128, 127), x ≈
/// scale · (x_q − zero_point). Zero points are int8 (0 when symmetric), as compressed-tensors stores them.
public struct StaticActivation: Sendable, Equatable {
    public let scale: Float
    public let zeroPoint: Int8
}

/// Activation quantization to int8: static (one scale per layer from calibration samples) and
/// dynamic (one scale per token, i.e. per row, at run time).
enum ActivationQuantization {
    /// Static parameters from all of a layer's samples taken as one range, narrowed by the calibrator.
    static func calibrate(_ x: Matrix, spec: ActivationSpec, kernels: Kernels) throws -> StaticActivation {
        let scheme = try spec.scheme(values: x.values.count)
        return try x.values.withUnsafeBufferPointer { values in
            let ranges = try kernels.minMax(values, rows: 1, cols: values.count, group: Swift.max(values.count, 1))
            var mins = ranges.mins
            var maxs = ranges.maxs
            scheme.clip(
                values, rows: 1, cols: values.count, group: Swift.max(values.count, 1), mins: &mins, maxs: &maxs, kernels: kernels
            )
            let (scale, zero) = LinearParameters.single(min: mins[0], max: maxs[0], scheme: scheme)
            // Asymmetric codes are unsigned 0...255 with zero point `zero`; shifting both by 128
            // gives the same values as int8 codes, which the s8 GEMM takes.
            return StaticActivation(scale: scale, zeroPoint: scheme.symmetric ? 0 : Int8(zero - 128))
        }
    }

    static func quantize(_ x: Matrix, _ a: StaticActivation) -> [Int8] {
        let inverse = 1 / a.scale
        let zero = Float(a.zeroPoint)
        return x.values.map { v in
            Int8(Swift.min(Swift.max((v * inverse).rounded(.toNearestOrEven) + zero, -128), 127))
        }
    }

    /// Per-token symmetric int8: each row's scale is its absmax / 127.
    static func quantizePerToken(_ x: Matrix) -> (codes: [Int8], scales: [Float]) {
        var codes = [Int8](repeating: 0, count: x.values.count)
        var scales = [Float](repeating: 1, count: x.rows)
        for r in 0..<x.rows {
            var absMax: Float = 0
            for c in 0..<x.cols { absMax = Swift.max(absMax, abs(x.values[r * x.cols + c])) }
            let scale = absMax > 0 ? absMax / 127 : 1
            scales[r] = scale
            let inverse = 1 / scale
            for c in 0..<x.cols {
                codes[r * x.cols + c] = Int8(
                    Swift.min(Swift.max((x.values[r * x.cols + c] * inverse).rounded(.toNearestOrEven), -127), 127))
            }
        }
        return (codes, scales)
    }

    /// Per-output-channel symmetric int8 weights (what W8A8 runtimes use): codes and scales.
    static func quantizeWeightsPerChannel(_ w: Matrix) -> (codes: [Int8], scales: [Float]) {
        quantizePerToken(w)
    }
}
