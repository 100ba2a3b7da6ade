import Foundation
import Int8Kernels
import ModelFormats
import QuantTesting
import Testing

@testable import QuantCore

/// Calibration-aware quantization (docs/CALIBRATION.md): the linear algebra against plain loops,
/// GPTQ against a column-by-column reference, AdaRound, int8 activations and the W8A8 evaluation.
@Suite("Calibration")
struct CalibrationTests {
    static func normal(_ rng: inout SplitMix64) -> Float {
        let u1 = Double(rng.next() % 1_000_000 + 1) / 1_000_001
        let u2 = Double(rng.next() % 1_000_000) / 1_000_000
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }

    static func random(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix {
        var rng = SplitMix64(seed: seed)
        return Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in normal(&rng) })
    }

    /// Inputs with correlated features (what makes GPTQ and AdaRound matter): Z · M.
    static func correlatedInputs(samples: Int, features: Int, seed: UInt64) -> Matrix {
        BLAS.multiply(random(samples, features / 4, seed: seed), random(features / 4, features, seed: seed + 1))
    }

    static func naiveProduct(_ a: Matrix, _ bT: Matrix) -> [Double] {
        var out = [Double](repeating: 0, count: a.rows * bT.rows)
        for i in 0..<a.rows {
            for j in 0..<bT.rows {
                var sum = 0.0
                for k in 0..<a.cols { sum += Double(a[i, k]) * Double(bT[j, k]) }
                out[i * bT.rows + j] = sum
            }
        }
        return out
    }

    @Test func blasProductsMatchPlainLoops() {
        let a = Self.random(37, 53, seed: 1)
        let b = Self.random(29, 53, seed: 2)
        let c = BLAS.multiplyTransposed(a, b)
        for (x, y) in zip(c.values, Self.naiveProduct(a, b)) { #expect(abs(Double(x) - y) <= 1e-4 * max(1, abs(y))) }
        let gram = BLAS.gram(a, scale: 0.5)
        var at = Matrix(zeros: 53, 37)
        for r in 0..<37 { for k in 0..<53 { at[k, r] = a[r, k] } }
        for (x, y) in zip(gram.values, Self.naiveProduct(at, at)) { #expect(abs(Double(x) - 0.5 * y) <= 1e-4 * max(1, abs(y))) }
    }

    @Test func inverseCholeskyFactorInvertsH() throws {
        let x = Self.random(200, 24, seed: 3)
        let h = BLAS.gram(x)
        let u = try #require(BLAS.inverseCholeskyUpper(h))
        for r in 0..<24 { for c in 0..<r { #expect(u[r, c] == 0) } }
        // H · (UᵀU) = I.
        var ut = Matrix(zeros: 24, 24)
        for r in 0..<24 { for c in 0..<24 { ut[c, r] = u[r, c] } }
        let product = BLAS.multiply(h, BLAS.multiply(ut, u))
        for r in 0..<24 { for c in 0..<24 { #expect(abs(product[r, c] - (r == c ? 1 : 0)) < 1e-3) } }
        var singular = Matrix(zeros: 3, 3)
        singular[0, 0] = 1
        #expect(BLAS.inverseCholeskyUpper(singular) == nil)
    }

    /// Column by column in Double, no blocks, no lazy batches: GPTQ as the paper states it.
    static func referenceGPTQ(_ w: Matrix, u: Matrix, scheme: LinearScheme, group: Int) throws -> [UInt8] {
        var work = w.values.map(Double.init)
        var grid = LinearGrid(scheme: scheme, rows: w.rows, cols: w.cols, group: group)
        var codes = [UInt8](repeating: 0, count: w.values.count)
        for j in 0..<w.cols {
            if j % group == 0 {
                let width = min(group, w.cols - j)
                var values = [Float]()
                for r in 0..<w.rows { for c in j..<(j + width) { values.append(Float(work[r * w.cols + c])) } }
                let p = try values.withUnsafeBufferPointer {
                    try LinearTensorEncoder.rowParameters(
                        $0, rows: w.rows, cols: width, group: width, scheme: scheme, scaleDType: .f32, kernels: .scalar,
                        tensor: "t")
                }
                for r in 0..<w.rows {
                    grid.scales[r * grid.groups + j / group] = p.scales[r]
                    grid.inverses[r * grid.groups + j / group] = 1 / p.scales[r]
                }
            }
            for r in 0..<w.rows {
                let x = Float(work[r * w.cols + j])
                let q = grid.code(x, row: r, col: j)
                codes[r * w.cols + j] = LinearGrid.byte(q)
                let err = (Double(x) - Double(grid.value(q, row: r, col: j))) / Double(u[j, j])
                for k in (j + 1)..<w.cols { work[r * w.cols + k] -= err * Double(u[j, k]) }
            }
        }
        return codes
    }

    static func outputError(_ w: Matrix, _ codes: [UInt8], grid: LinearGrid, h: Matrix, signed: Bool) -> Float {
        var delta = Matrix(zeros: w.rows, w.cols)
        for r in 0..<w.rows {
            for c in 0..<w.cols {
                let byte = codes[r * w.cols + c]
                delta[r, c] = grid.value(signed ? Int32(Int8(bitPattern: byte)) : Int32(byte), row: r, col: c) - w[r, c]
            }
        }
        return AdaRound.outputError(delta, h)
    }

    @Test func gptqMatchesTheColumnByColumnReference() throws {
        let w = Self.random(24, 96, seed: 5)
        let x = Self.correlatedInputs(samples: 256, features: 96, seed: 6)
        let scheme = try LinearScheme(bits: 4, symmetric: true, granularity: .group(size: 32))
        let h = BLAS.gram(x, scale: 2 / 256)
        var damped = h
        let mean = (0..<96).reduce(Float(0)) { $0 + h[$1, $1] } / 96
        for i in 0..<96 { damped[i, i] += 0.01 * mean }
        let u = try #require(BLAS.inverseCholeskyUpper(damped))
        let reference = try Self.referenceGPTQ(w, u: u, scheme: scheme, group: 32)
        // Blocks of 32 columns with lazy updates, two threads.
        let fast = try GPTQ.quantize(
            w, hessian: h, scheme: scheme, scaleDType: .f32, group: 32, options: GPTQOptions(), kernels: .best, threads: 2,
            tensor: "t")
        let same = zip(reference, fast.codes).filter { $0 == $1 }.count
        #expect(Double(same) / Double(reference.count) > 0.995, "only \(same) of \(reference.count) codes agree")
    }

    @Test func gptqAndAdaRoundBeatRoundToNearestOnOutputError() throws {
        let w = Self.random(32, 128, seed: 7)
        let x = Self.correlatedInputs(samples: 512, features: 128, seed: 8)
        for (bits, group, symmetric) in [(4, 64, true), (3, 128, false), (2, 32, true)] {
            let scheme = try LinearScheme(bits: bits, symmetric: symmetric, granularity: .group(size: group))
            let p = try w.values.withUnsafeBufferPointer {
                try LinearTensorEncoder.rowParameters(
                    $0, rows: 32, cols: 128, group: group, scheme: scheme, scaleDType: .f32, kernels: .best, tensor: "t")
            }
            let nearest = LinearGrid(scheme: scheme, cols: 128, group: group, parameters: p)
            var nearestCodes = [UInt8](repeating: 0, count: w.values.count)
            for r in 0..<32 {
                for c in 0..<128 { nearestCodes[r * 128 + c] = LinearGrid.byte(nearest.code(w[r, c], row: r, col: c)) }
            }
            let h = BLAS.gram(x, scale: 1 / 512)
            let rtnError = Self.outputError(w, nearestCodes, grid: nearest, h: h, signed: symmetric)

            let gptq = try GPTQ.quantize(
                w, hessian: BLAS.gram(x, scale: 2 / 512), scheme: scheme, scaleDType: .f32, group: group, options: GPTQOptions(),
                kernels: .best,
                threads: 2, tensor: "t")
            let gptqError = Self.outputError(
                w, gptq.codes, grid: LinearGrid(scheme: scheme, cols: 128, group: group, parameters: gptq.parameters), h: h,
                signed: symmetric)
            #expect(gptqError < 0.8 * rtnError, "int\(bits) g\(group): GPTQ \(gptqError) vs nearest \(rtnError)")

            let ada = AdaRound.quantize(w, hessian: h, grid: nearest, iterations: 300)
            let adaError = Self.outputError(w, ada, grid: nearest, h: h, signed: symmetric)
            #expect(adaError < 0.8 * rtnError, "int\(bits) g\(group): AdaRound \(adaError) vs nearest \(rtnError)")
            // Deterministic: nothing random in it.
            #expect(AdaRound.quantize(w, hessian: h, grid: nearest, iterations: 300) == ada)
            // AdaRound only ever moves a weight to the grid point below or above it.
            for i in 0..<ada.count {
                let q = symmetric ? Int32(Int8(bitPattern: ada[i])) : Int32(ada[i])
                let scaled =
                    w.values[i] * nearest.inverses[nearest.slot(i / 128, i % 128)]
                    + Float(nearest.zeros?[nearest.slot(i / 128, i % 128)] ?? 0)
                #expect(
                    Float(q) >= min(scaled.rounded(.down), Float(scheme.qmax))
                        && Float(q) <= max(scaled.rounded(.up), Float(scheme.qmin)))
            }
        }
    }

    @Test func withUncorrelatedInputsGPTQIsRoundToNearest() throws {
        // H diagonal: no error reaches another column, so every code is the nearest one.
        let w = Self.random(16, 64, seed: 9)
        var h = Matrix(zeros: 64, 64)
        for i in 0..<64 { h[i, i] = Float(1 + i % 5) }
        let scheme = try LinearScheme(bits: 4, symmetric: false, granularity: .group(size: 16))
        let gptq = try GPTQ.quantize(
            w, hessian: h, scheme: scheme, scaleDType: .f16, group: 16, options: GPTQOptions(), kernels: .best, threads: 1,
            tensor: "t")
        let p = try w.values.withUnsafeBufferPointer {
            try LinearTensorEncoder.rowParameters(
                $0, rows: 16, cols: 64, group: 16, scheme: scheme, scaleDType: .f16, kernels: .best, tensor: "t")
        }
        #expect(gptq.parameters == p)
        let grid = LinearGrid(scheme: scheme, cols: 64, group: 16, parameters: p)
        for r in 0..<16 {
            for c in 0..<64 { #expect(gptq.codes[r * 64 + c] == LinearGrid.byte(grid.code(w[r, c], row: r, col: c))) }
        }
    }

    @Test func actOrderKeepsContiguousGroupsAndHelps() throws {
        let w = Self.random(24, 128, seed: 10)
        let x = Self.correlatedInputs(samples: 512, features: 128, seed: 11)
        let scheme = try LinearScheme(bits: 3, symmetric: true, granularity: .channel(axis: 0))
        var options = GPTQOptions()
        options.actOrder = true
        let h = BLAS.gram(x, scale: 2 / 512)
        let ordered = try GPTQ.quantize(
            w, hessian: h, scheme: scheme, scaleDType: .f32, group: 128, options: options, kernels: .best, threads: 2, tensor: "t"
        )
        #expect(ordered.parameters.scales.count == 24)
        let grid = LinearGrid(scheme: scheme, cols: 128, group: 128, parameters: ordered.parameters)
        let p = try w.values.withUnsafeBufferPointer {
            try LinearTensorEncoder.rowParameters(
                $0, rows: 24, cols: 128, group: 128, scheme: scheme, scaleDType: .f32, kernels: .best, tensor: "t")
        }
        let nearest = LinearGrid(scheme: scheme, cols: 128, group: 128, parameters: p)
        var nearestCodes = [UInt8](repeating: 0, count: w.values.count)
        for r in 0..<24 {
            for c in 0..<128 { nearestCodes[r * 128 + c] = LinearGrid.byte(nearest.code(w[r, c], row: r, col: c)) }
        }
        #expect(
            Self.outputError(w, ordered.codes, grid: grid, h: h, signed: true)
                < Self.outputError(w, nearestCodes, grid: nearest, h: h, signed: true))
    }

    @Test func staticAndDynamicActivationParameters() throws {
        let x = Matrix(rows: 2, cols: 4, values: [0, 1, 2, 4, -0.5, 0.25, 3, 8])
        let symmetric = try ActivationQuantization.calibrate(
            x, spec: ActivationSpec(mode: .staticScales, datasetID: "d", calibrator: .minmax, bits: 8, symmetric: true),
            kernels: .best)
        #expect(symmetric == StaticActivation(scale: 8 / 127, zeroPoint: 0))
        let asymmetric = try ActivationQuantization.calibrate(
            x, spec: ActivationSpec(mode: .staticScales, datasetID: "d", calibrator: .minmax, bits: 8, symmetric: false),
            kernels: .best)
        #expect(asymmetric.scale == 8.5 / 255)
        // The value 0 is exact: scale · (q − Z) with q = Z.
        #expect(ActivationQuantization.quantize(Matrix(rows: 1, cols: 1, values: [0]), asymmetric) == [asymmetric.zeroPoint])
        #expect(ActivationQuantization.quantize(Matrix(rows: 1, cols: 1, values: [-0.5]), asymmetric) == [-128])
        let tokens = ActivationQuantization.quantizePerToken(x)
        #expect(tokens.scales == [4 / 127, 8 / 127])
        #expect(tokens.codes[3] == 127 && tokens.codes[7] == 127 && tokens.codes[0] == 0)
    }

    /// The W8A8 outputs the int8 GEMM computes equal the same quantized product in plain loops.
    @Test func w8a8EvaluationMatchesAScalarProduct() throws {
        let w = Self.random(20, 48, seed: 12)
        var x = Self.random(33, 48, seed: 13)
        for i in x.values.indices { x.values[i] = abs(x.values[i]) - 0.2 }
        let input = try ActivationQuantization.calibrate(
            x, spec: ActivationSpec(mode: .staticScales, datasetID: "d", calibrator: .minmax, bits: 8, symmetric: false),
            kernels: .best)
        let evaluation = try LayerEvaluation.evaluate(
            x: x, w: w, dequantized: w, nearest: nil, input: input, calibrator: "minmax", kernels: .best, threads: 2)
        #expect(evaluation.weightOnly == .infinity)
        let wq = ActivationQuantization.quantizeWeightsPerChannel(w)
        let xq = ActivationQuantization.quantize(x, input)
        var approx = Matrix(zeros: 33, 20)
        for m in 0..<33 {
            for n in 0..<20 {
                var sum = 0.0
                for k in 0..<48 { sum += (Double(xq[m * 48 + k]) - Double(input.zeroPoint)) * Double(wq.codes[n * 48 + k]) }
                approx[m, n] = Float(sum * Double(input.scale) * Double(wq.scales[n]))
            }
        }
        let expected = LayerEvaluation.sqnr(BLAS.multiplyTransposed(x, w), approx)
        #expect(abs(evaluation.w8a8Static - expected) < 1e-3)
        #expect(evaluation.w8a8Static > 25 && evaluation.w8a8Dynamic > 25)
        #expect(evaluation.fp32Seconds > 0 && evaluation.int8Seconds > 0)
    }
}

@Suite("Calibration recipes")
struct CalibrationRecipeTests {
    /// The resolved recipe is stored with the job and parsed again by the worker: it must round-trip.
    @Test func resolvedRecipesParseAgain() throws {
        let recipes = [
            #"{"preset": "int8", "activations": {"mode": "dynamic"}}"#,
            #"{"preset": "int8", "activations": {"mode": "dynamic", "dataset_id": "ds_2"}}"#,
            #"{"preset": "int8", "activations": {"mode": "static", "dataset_id": "ds_1", "calibrator": "percentile", "percentile": 99.9, "symmetric": false}}"#,
            #"{"preset": "int4-g128", "weights": {"rounding": {"method": "adaround", "dataset_id": "ds_1", "iterations": 50}}}"#,
            #"{"weights": {"method": "gptq", "bits": 3, "granularity": "channel", "damping": 0.05, "act_order": true, "dataset_id": "ds_1"}, "output": {"format": "compressed-tensors"}}"#,
        ]
        for text in recipes {
            let recipe = try Recipe.parse(text)
            let again = try Recipe.parse(recipe.json.serialized)
            #expect(again.json == recipe.json, "\(text)")
            #expect(again.datasetID == recipe.datasetID && again.activations == recipe.activations)
        }
        #expect(try Recipe.parse(recipes[1]).datasetID == "ds_2")
        #expect(try Recipe.parse(recipes[2]).datasetID == "ds_1")
        #expect(try Recipe.parse(recipes[0]).datasetID == nil)
    }

    @Test func errorsNameTheField() {
        func field(_ text: String) -> String? {
            do {
                _ = try Recipe.parse(text)
                return nil
            } catch let error as RecipeError { return error.field } catch { return "?" }
        }
        #expect(field(#"{"weights": {"method": "gptq", "bits": 4}}"#) == "weights.dataset_id")
        #expect(field(#"{"weights": {"method": "gptq", "dataset_id": "a", "granularity": "tensor"}}"#) == "weights.granularity")
        #expect(field(#"{"weights": {"method": "gptq", "dataset_id": "a", "damping": 0}}"#) == "weights.damping")
        #expect(
            field(#"{"weights": {"method": "gptq", "dataset_id": "a", "rounding": {"method": "nearest"}}}"#) == "weights.rounding"
        )
        #expect(field(#"{"activations": {"mode": "static"}}"#) == "activations.dataset_id")
        #expect(
            field(#"{"activations": {"mode": "static", "dataset_id": "a", "calibrator": "entropy"}}"#) == "activations.calibrator"
        )
        #expect(field(#"{"activations": {"mode": "dynamic", "bits": 4}}"#) == "activations.bits")
        #expect(field(#"{"preset": "q4_0", "activations": {"mode": "static", "dataset_id": "a"}}"#) == "activations")
        #expect(
            field(#"{"weights": {"method": "gptq", "dataset_id": "a"}, "activations": {"mode": "static", "dataset_id": "b"}}"#)
                == "activations.dataset_id")
        #expect(field(#"{"weights": {"rounding": {"method": "adaround"}}}"#) == "weights.rounding.dataset_id")
    }
}

@Suite("Mixed precision by output error")
struct MixedPrecisionOutputErrorTests {
    /// Layer a has outliers (the worse weight SQNR); layer b's inputs only reach its small-valued
    /// columns, which coarse group scales wipe out (the worse output SQNR). One layer can have int8:
    /// weight error gives it to a, output error on the layers' inputs to b.
    @Test func outputErrorDecidesWhenADatasetIsGiven() throws {
        let dir = try temporaryDirectory()
        var rng = SplitMix64(seed: 21)
        let rows = 32
        let cols = 128
        var a = (0..<(rows * cols)).map { _ in CalibrationTests.normal(&rng) }
        for i in stride(from: 0, to: a.count, by: 61) { a[i] *= 12 }
        let b = (0..<(rows * cols)).map { i in CalibrationTests.normal(&rng) * (i % cols < 64 ? 1 : 0.02) }
        let model = dir.appendingPathComponent("m.safetensors").path
        try writeModel(model, [("a.weight", [rows, cols], a), ("b.weight", [rows, cols], b)])
        let samples = 64
        let xa = (0..<(samples * cols)).map { _ in CalibrationTests.normal(&rng) }
        let xb = (0..<(samples * cols)).map { i in i % cols < 64 ? 0 : CalibrationTests.normal(&rng) }
        let dataset = dir.appendingPathComponent("d.safetensors").path
        try writeModel(dataset, [("a.input", [samples, cols], xa), ("b.input", [samples, cols], xb)])
        let recipe = try Recipe.parse(
            #"{"preset": "auto", "mixed_precision": {"candidates": ["int8", "int4-g128"], "max_bits_per_weight": 6.5}}"#)
        let source = try SourceModel(path: model)
        var options = PipelineOptions(threads: 2)
        let byWeight = try MixedPrecision.select(
            source, recipe: recipe, spec: recipe.mixedPrecision!, options: options, scratch: dir.path)
        options.calibrationDataset = dataset
        let byOutput = try MixedPrecision.select(
            source, recipe: recipe, spec: recipe.mixedPrecision!, options: options, scratch: dir.path)
        func chosen(_ s: MixedPrecision.Selection) -> [String: String] {
            Dictionary(uniqueKeysWithValues: s.choices.map { ($0.tensor, $0.candidate) })
        }
        #expect(chosen(byWeight) == ["a.weight": "int8", "b.weight": "int4-g128"])
        #expect(chosen(byOutput) == ["a.weight": "int4-g128", "b.weight": "int8"])
        #expect(byWeight.outputErrorTensors.isEmpty && byOutput.outputErrorTensors == ["a.weight", "b.weight"])
        // No scratch files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["d.safetensors", "m.safetensors"])
    }
}
