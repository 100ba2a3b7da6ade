import Int8Kernels

/// Weights as the artifact will hold them, for quantization-aware training: the forward pass uses
/// these values, computed exactly as the pipeline quantizes (same scales in their storage dtype,
/// same codes), and `passes` says where the straight-through estimator lets the gradient through.
struct FakeQuantizer {
    enum Rule {
        case linear(LinearScheme, WeightSpec.ScaleDType)
        case sign(ternary: Bool)
    }

    let rule: Rule

    /// What QAT can train: linear (nearest rounding, one level of scales), binary and ternary.
    init(_ spec: WeightSpec) throws {
        switch spec.method {
        case .linear:
            let scheme = spec.scheme!
            guard scheme.rounding == .nearest, scheme.groupScaleBits == nil else {
                throw TrainingError.unsupported(
                    "weights",
                    "QAT trains linear weights rounded to nearest with one level of scales (no stochastic or adaround rounding, no scale_bits)"
                )
            }
            if case .channel(let axis) = scheme.granularity, axis != 0 {
                throw TrainingError.unsupported("weights.axis", "QAT takes channel scales on axis 0 (output channels)")
            }
            rule = .linear(scheme, spec.scaleDType)
        case .binary: rule = .sign(ternary: false)
        case .ternary: rule = .sign(ternary: true)
        default:
            throw TrainingError.unsupported(
                "weights.method", "QAT trains methods linear (2-8 bits), binary and ternary, not '\(spec.method.rawValue)'")
        }
    }

    /// The fake-quantized weights and, per weight, whether its gradient passes: inside the
    /// quantization range for linear codes (clamped codes get none), |w| <= 1 for binary and ternary
    /// (BinaryConnect's hard-tanh clipping).
    func apply(_ w: Matrix, kernels: Kernels, name: String) throws -> (values: Matrix, passes: [Bool]) {
        var out = Matrix(zeros: w.rows, w.cols)
        var passes = [Bool](repeating: true, count: w.values.count)
        switch rule {
        case .linear(let scheme, let scaleDType):
            var rows = w.rows
            var cols = w.cols
            var group = w.cols
            switch scheme.granularity {
            case .tensor: (rows, cols, group) = (1, w.values.count, w.values.count)
            case .group(let size): group = size
            case .channel: break
            }
            let parameters = try w.values.withUnsafeBufferPointer {
                try LinearTensorEncoder.rowParameters(
                    $0, rows: rows, cols: cols, group: group, scheme: scheme, scaleDType: scaleDType, kernels: kernels,
                    tensor: name)
            }
            let grid = LinearGrid(scheme: scheme, cols: cols, group: group, parameters: parameters)
            for r in 0..<rows {
                for c in 0..<cols {
                    let i = r * cols + c
                    let slot = grid.slot(r, c)
                    let q = grid.code(w.values[i], row: r, col: c)
                    out.values[i] = grid.value(q, row: r, col: c)
                    let scaled = w.values[i] * grid.inverses[slot] + Float(grid.zeros?[slot] ?? 0)
                    passes[i] = scaled >= Float(scheme.qmin) - 0.5 && scaled <= Float(scheme.qmax) + 0.5
                }
            }
        case .sign(let ternary):
            var codes = [UInt8](repeating: 0, count: w.cols)
            for r in 0..<w.rows {
                let scale = w.values.withUnsafeBufferPointer { values in
                    codes.withUnsafeMutableBufferPointer {
                        SignTensorEncoder.quantize(
                            UnsafeBufferPointer(rebasing: values[(r * w.cols)..<((r + 1) * w.cols)]), ternary: ternary, codes: $0)
                    }
                }
                for c in 0..<w.cols {
                    let i = r * w.cols + c
                    out.values[i] = scale * SignTensorEncoder.value(codes[c], ternary: ternary)
                    passes[i] = abs(w.values[i]) <= 1
                }
            }
        }
        return (out, passes)
    }
}

/// A QAT request outside what is supported, naming the field and saying what is.
public enum TrainingError: Error, Equatable, CustomStringConvertible, Sendable {
    case unsupported(String, String)
    case invalidModel(String)
    case invalidData(String)

    public var field: String {
        switch self {
        case .unsupported(let field, _): field
        case .invalidModel: "model_id"
        case .invalidData: "training.dataset_id"
        }
    }

    public var description: String {
        switch self {
        case .unsupported(let field, let message): "\(field): \(message)"
        case .invalidModel(let message): "model: \(message)"
        case .invalidData(let message): "training data: \(message)"
        }
    }
}
