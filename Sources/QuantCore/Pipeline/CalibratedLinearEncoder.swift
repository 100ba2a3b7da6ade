import Int8Kernels
import ModelFormats
import Synchronization

/// The calibration state of one run: the dataset, the static input scales computed before any
/// tensor is written, and each layer's evaluation as it is measured.
final class CalibrationContext: @unchecked Sendable {
    let dataset: CalibrationDataset
    let activations: ActivationSpec?
    /// Static input quantization per layer (only with `"activations": {"mode": "static"}`).
    let staticInputs: [String: StaticActivation]
    let evaluations = Mutex([String: (evaluation: LayerEvaluation, rounding: String)]())
    /// The kernel table the int8 GEMM ran on, named in the report beside its speed-up.
    let kernels: Kernels

    init(dataset: CalibrationDataset, activations: ActivationSpec?, layers: [String], kernels: Kernels) throws {
        self.dataset = dataset
        self.kernels = kernels
        self.activations = activations
        var inputs: [String: StaticActivation] = [:]
        if let activations, activations.mode == .staticScales {
            for layer in layers {
                inputs[layer] = try ActivationQuantization.calibrate(
                    try dataset.inputs(of: layer, kernels: kernels), spec: activations, kernels: kernels)
            }
        }
        staticInputs = inputs
    }

    /// The static input parameters used for the W8A8 static evaluation: the recipe's, else min-max.
    func evaluationInput(_ layer: String, _ x: Matrix, kernels: Kernels) throws -> (StaticActivation, String) {
        if let input = staticInputs[layer], let activations { return (input, activations.calibrator.name) }
        let spec = ActivationSpec(mode: .staticScales, datasetID: nil, calibrator: .minmax, bits: 8, symmetric: true)
        return (try ActivationQuantization.calibrate(x, spec: spec, kernels: kernels), "minmax")
    }

    /// llama.cpp's importance matrix for a layer's weight: each input column's mean squared value over
    /// the layer's calibration samples (one weight per column of the weight's rows).
    func importance(of layer: String, kernels: Kernels) throws -> [Float] {
        let x = try dataset.inputs(of: layer, kernels: kernels)
        var sums = [Double](repeating: 0, count: x.cols)
        for row in 0..<x.rows {
            for col in 0..<x.cols {
                let v = Double(x.values[row * x.cols + col])
                sums[col] += v * v
            }
        }
        return sums.map { Float($0 / Double(Swift.max(1, x.rows))) }
    }

    func record(_ tensor: String, _ evaluation: LayerEvaluation, rounding: String) {
        evaluations.withLock { $0[tensor] = (evaluation, rounding) }
    }
}

/// Linear quantization of a 2-D `<layer>.weight` whose inputs are in the dataset: codes by GPTQ,
/// AdaRound or round-to-nearest, written in the linear (or compressed-tensors) layout exactly as
/// `LinearTensorEncoder` writes them, then evaluated on the layer's inputs. The whole weight matrix is
/// held (GPTQ updates every column), plus the layer's samples and its Hessian.
struct CalibratedLinearEncoder {
    let linear: LinearTensorEncoder
    let calibration: CalibrationContext
    let layer: String
    let spec: WeightSpec

    var processor: TensorProcessor { linear.processor }
    var tensor: SourceTensor { linear.tensor }
    var scheme: LinearScheme { linear.scheme }

    /// Group and axis-0 channel scales (the granularities GPTQ and AdaRound work with).
    static func applies(_ scheme: LinearScheme, to tensor: SourceTensor) -> Bool {
        guard tensor.shape.count == 2, scheme.groupScaleBits == nil else { return false }
        switch scheme.granularity {
        case .group, .channel(axis: 0): return true
        default: return false
        }
    }

    func run(into writer: ArtifactWriter, fixedPoint: inout String?) throws -> ErrorMetrics {
        let rows = tensor.shape[0]
        let cols = tensor.shape[1]
        let w = try readWeights(rows: rows, cols: cols)
        let x = try calibration.dataset.inputs(of: layer, kernels: processor.kernels)
        var group = cols
        if case .group(let size) = scheme.granularity { group = size }
        let nearestParameters = try w.values.withUnsafeBufferPointer {
            try LinearTensorEncoder.rowParameters(
                $0, rows: rows, cols: cols, group: group, scheme: scheme, scaleDType: linear.scaleDType,
                kernels: processor.kernels, tensor: tensor.name)
        }
        let nearest = LinearGrid(scheme: scheme, cols: cols, group: group, parameters: nearestParameters)
        let nearestCodes = nearest.codes(of: w)
        var grid = nearest
        var result = nearestCodes
        var rounding = "nearest"
        if case .gptq(let settings) = spec {
            let options = settings.options
            let hessian = BLAS.gram(x, scale: 2 / Float(x.rows))
            let gptq = try GPTQ.quantize(
                w, hessian: hessian, scheme: scheme, scaleDType: linear.scaleDType, group: group, options: options,
                kernels: processor.kernels, threads: processor.threads, tensor: tensor.name)
            grid = LinearGrid(scheme: scheme, cols: cols, group: group, parameters: gptq.parameters)
            result = gptq.codes
            rounding = "gptq"
        } else if case .adaround(let iterations, _) = scheme.rounding {
            result = AdaRound.quantize(w, hessian: BLAS.gram(x, scale: 1 / Float(x.rows)), grid: nearest, iterations: iterations)
            rounding = "adaround"
        }
        var metrics = ErrorMetrics()
        try w.values.withUnsafeBufferPointer { values in
            try result.withUnsafeBufferPointer { codeBuffer in
                try grid.scales.withUnsafeBufferPointer { scales in
                    try withOptional(grid.zeros) { zeros in
                        try processor.kernels.linearError(
                            values, codes: codeBuffer, signed: scheme.signedCodes, rows: rows, cols: cols, group: group,
                            scales: scales,
                            zeroPoints: zeros, into: &metrics)
                    }
                }
            }
            try result.withUnsafeBufferPointer { try linear.emit($0, lastDim: cols, writer: writer) }
        }
        try linear.writeParameters(
            scales: grid.scales, zeros: grid.zeros, twoLevel: TwoLevelScales(), writer: writer, fixedPoint: &fixedPoint)

        let (input, calibrator) = try calibration.evaluationInput(layer, x, kernels: processor.kernels)
        let evaluation = try LayerEvaluation.evaluate(
            x: x, w: w, dequantized: grid.values(of: result, rows: rows),
            nearest: rounding == "nearest" ? nil : nearest.values(of: nearestCodes, rows: rows),
            input: input, calibrator: calibrator, kernels: processor.kernels, threads: processor.threads)
        calibration.record(tensor.name, evaluation, rounding: rounding)
        return metrics
    }

    /// The weight matrix, read in row chunks (progress and cancellation per chunk).
    func readWeights(rows: Int, cols: Int) throws -> Matrix {
        try Self.readWeights(tensor, rows: rows, cols: cols, processor: processor)
    }

    static func readWeights(_ tensor: SourceTensor, rows: Int, cols: Int, processor: TensorProcessor, reportProgress: Bool = true)
        throws -> Matrix
    {
        var values = [Float]()
        values.reserveCapacity(rows * cols)
        for chunk in processor.chunks(rows: rows, cols: cols) {
            let elements = (chunk.lowerBound * cols)..<(chunk.upperBound * cols)
            let x = try processor.read(tensor, elements: elements)
            let bad = x.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            if bad > 0 { throw PipelineError.nonFinite(tensor.name, bad) }
            values.append(contentsOf: x)
            if reportProgress {
                try processor.done(tensor, elements: elements)
            } else {
                processor.source.release(tensor, elements: elements)
            }
        }
        return Matrix(rows: rows, cols: cols, values: values)
    }

    /// W8A8 evaluation of a layer quantized by another method (its weight-only output error is not
    /// measured: only linear codes are reconstructed here).
    static func evaluateOnly(
        _ tensor: SourceTensor, layer: String, calibration: CalibrationContext, processor: TensorProcessor,
        rounding: String = "n/a"
    ) throws {
        let w = try readWeights(tensor, rows: tensor.shape[0], cols: tensor.shape[1], processor: processor, reportProgress: false)
        let x = try calibration.dataset.inputs(of: layer, kernels: processor.kernels)
        let (input, calibrator) = try calibration.evaluationInput(layer, x, kernels: processor.kernels)
        let evaluation = try LayerEvaluation.evaluate(
            x: x, w: w, dequantized: nil, nearest: nil, input: input, calibrator: calibrator, kernels: processor.kernels,
            threads: processor.threads)
        calibration.record(tensor.name, evaluation, rounding: rounding)
    }
}
