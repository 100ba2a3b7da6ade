import Dispatch
import Foundation
import Int8Kernels
import JSON
import ModelFormats

/// What quantization does to one linear layer's outputs on its calibration inputs, against X·Wᵀ in
/// fp32: the artifact's weights alone, and int8 weights with int8 activations (static scales and
/// dynamic per-token scales) through the int8 GEMM, as an int8 runtime computes them. Also the speed
/// of that int8 GEMM against OpenBLAS's fp32 GEMM on this very shape.
public struct LayerEvaluation: Sendable {
    public var samples: Int
    /// Output SQNR (dB) with the artifact's weights and fp32 activations.
    public var weightOnly: Double?
    /// The same with round-to-nearest codes, when the rounding was calibrated (GPTQ, AdaRound).
    public var weightOnlyNearest: Double?
    /// W8A8 with the static input scale (per-channel int8 weights).
    public var w8a8Static: Double
    public var staticCalibrator: String
    /// W8A8 with per-token input scales.
    public var w8a8Dynamic: Double
    public var input: StaticActivation
    public var fp32Seconds: Double
    public var int8Seconds: Double

    public var json: JSONValue {
        var sqnr = JSONObject()
        sqnr["weight_only"] = weightOnly.map(Report.number) ?? .null
        if let weightOnlyNearest { sqnr["weight_only_nearest"] = Report.number(weightOnlyNearest) }
        sqnr["w8a8_static"] = Report.number(w8a8Static)
        sqnr["w8a8_dynamic"] = Report.number(w8a8Dynamic)
        return .object(
            JSONObject([
                ("samples", .integer(samples)),
                ("output_sqnr_db", .object(sqnr)),
                ("static_calibrator", .string(staticCalibrator)),
                ("input_scale", Report.number(Double(input.scale))),
                ("input_zero_point", .integer(Int(input.zeroPoint))),
                ("fp32_gemm_ms", Report.number(fp32Seconds * 1000)),
                ("int8_gemm_ms", Report.number(int8Seconds * 1000)),
                ("int8_speedup", Report.number(int8Seconds > 0 ? fp32Seconds / int8Seconds : 0)),
            ]))
    }

    /// `dequantized` and `nearest` are the artifact's weights and round-to-nearest's, when known.
    static func evaluate(
        x: Matrix, w: Matrix, dequantized: Matrix?, nearest: Matrix?, input: StaticActivation, calibrator: String,
        kernels: Kernels, threads: Int
    ) throws -> LayerEvaluation {
        let reference = BLAS.multiplyTransposed(x, w)
        let weights = ActivationQuantization.quantizeWeightsPerChannel(w)
        let prepared = try weights.codes.withUnsafeBufferPointer { try PreparedMatrix($0, rows: w.rows, cols: w.cols) }
        let rowSums = (0..<w.rows).map { n in (0..<w.cols).reduce(Int32(0)) { $0 + Int32(weights.codes[n * w.cols + $1]) } }

        // Static: int32 accumulators, then S_x · S_w[n] · (acc − Z_x · Σ_k Wq[n, k]).
        let staticCodes = ActivationQuantization.quantize(x, input)
        let accumulators = try staticCodes.withUnsafeBufferPointer {
            try kernels.gemm($0, m: x.rows, b: prepared, threads: threads)
        }
        var staticOutput = Matrix(zeros: x.rows, w.rows)
        let zero = Int32(input.zeroPoint)
        for m in 0..<x.rows {
            for n in 0..<w.rows {
                let acc = accumulators[m * w.rows + n] - zero * rowSums[n]
                staticOutput.values[m * w.rows + n] = Float(acc) * input.scale * weights.scales[n]
            }
        }
        // Dynamic: per-token scales, applied by the GEMM itself.
        let tokens = ActivationQuantization.quantizePerToken(x)
        let dynamicValues = try tokens.codes.withUnsafeBufferPointer {
            try kernels.gemm($0, m: x.rows, b: prepared, aScales: tokens.scales, bScales: weights.scales, threads: threads)
        }
        let dynamicOutput = Matrix(rows: x.rows, cols: w.rows, values: dynamicValues)

        // The int8 product is timed before OpenBLAS runs again: OpenBLAS's threads spin for a while
        // after each sgemm and would take the cores the int8 threads need.
        let int8 = try bestTimeThrowing {
            _ = try tokens.codes.withUnsafeBufferPointer {
                try kernels.gemm($0, m: x.rows, b: prepared, aScales: tokens.scales, bScales: weights.scales, threads: threads)
            }
        }
        let fp32 = bestTime { _ = BLAS.multiplyTransposed(x, w) }
        return LayerEvaluation(
            samples: x.rows,
            weightOnly: dequantized.map { sqnr(reference, BLAS.multiplyTransposed(x, $0)) },
            weightOnlyNearest: nearest.map { sqnr(reference, BLAS.multiplyTransposed(x, $0)) },
            w8a8Static: sqnr(reference, staticOutput), staticCalibrator: calibrator,
            w8a8Dynamic: sqnr(reference, dynamicOutput), input: input, fp32Seconds: fp32, int8Seconds: int8)
    }

    /// 10 log10(Σ y² / Σ (y − ŷ)²); +Inf when exact.
    static func sqnr(_ reference: Matrix, _ approximation: Matrix) -> Double {
        var signal = 0.0
        var noise = 0.0
        for i in 0..<reference.values.count {
            let y = Double(reference.values[i])
            let d = y - Double(approximation.values[i])
            signal += y * y
            noise += d * d
        }
        return noise == 0 ? .infinity : 10 * log10(signal / noise)
    }

    /// The fastest of repeated runs: at least 3, until 50 ms are spent (at most 200 runs).
    static func bestTime(_ body: () -> Void) -> Double {
        (try? bestTimeThrowing(body)) ?? 0
    }

    static func bestTimeThrowing(_ body: () throws -> Void) throws -> Double {
        var best = Double.infinity
        var spent = 0.0
        var runs = 0
        while runs < 3 || (spent < 0.05 && runs < 200) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = Swift.min(best, seconds)
            spent += seconds
            runs += 1
        }
        return best
    }
}
