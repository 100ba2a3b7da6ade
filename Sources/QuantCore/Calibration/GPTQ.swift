import Dispatch
import Int8Kernels

/// GPTQ (Frantar et al., 2022): quantizes a weight matrix one input column at a time and spreads
/// each column's rounding error over the columns not yet quantized, weighted by the inverse Hessian
/// of the layer's output error, H = 2/n XᵀX. Columns go in blocks; the error of a block reaches the
/// later columns in one GEMM (the "lazy batch" update).
///
/// Scales are those of round-to-nearest (the scheme's clipping included), taken from the weights as
/// updated when the group's first column comes up, so the artifact layout is the linear one.
enum GPTQ {
    struct Result {
        var codes: [UInt8]
        var parameters: LinearParameters
        /// The dampening finally used (raised tenfold while H was not positive definite).
        var damping: Double
    }

    /// `w` is out x in, `hessian` in x in (symmetric). `group` = values per scale along a row.
    static func quantize(
        _ w: Matrix, hessian: Matrix, scheme: LinearScheme, scaleDType: WeightSpec.ScaleDType, group: Int, options: GPTQOptions,
        kernels: Kernels, threads: Int, tensor: String
    ) throws -> Result {
        let rows = w.rows
        let cols = w.cols
        var h = hessian
        // Inputs that are always zero carry no information: unit diagonal keeps H invertible.
        for i in 0..<cols where h[i, i] == 0 { h[i, i] = 1 }
        let order: [Int] =
            options.actOrder
            ? (0..<cols).sorted { h[$0, $0] > h[$1, $1] || (h[$0, $0] == h[$1, $1] && $0 < $1) }
            : Array(0..<cols)
        // Work in processing order: column j of `work` is column order[j] of w.
        var work = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            for j in 0..<cols { work[r * cols + j] = w.values[r * cols + order[j]] }
        }
        var hp = Matrix(zeros: cols, cols)
        for i in 0..<cols {
            for j in 0..<cols { hp[i, j] = h[order[i], order[j]] }
        }
        let meanDiagonal = (0..<cols).reduce(0.0) { $0 + Double(hp[$1, $1]) } / Double(Swift.max(cols, 1))
        var damping = options.damping
        var factor: Matrix?
        for _ in 0..<6 {
            var damped = hp
            let add = Float(damping * meanDiagonal)
            for i in 0..<cols { damped[i, i] += add }
            factor = BLAS.inverseCholeskyUpper(damped)
            if factor != nil { break }
            damping *= 10
        }
        guard let u = factor else {
            throw CalibrationError.numerical(
                "tensor '\(tensor)': the Hessian of its inputs stays singular even with damping \(damping); check the dataset's `.input` samples"
            )
        }

        var grid = LinearGrid(scheme: scheme, rows: rows, cols: cols, group: group)
        var known = [Bool](repeating: false, count: grid.groups)
        var position = [Int](repeating: 0, count: cols)
        for (j, c) in order.enumerated() { position[c] = j }
        var codes = [UInt8](repeating: 0, count: rows * cols)
        // Blocks end where groups end, so (without act-order) a group's scales see every update
        // made before its first column.
        let block =
            group >= cols
            ? Swift.min(options.blockSize, cols)
            : (group <= 2 * options.blockSize ? group : (group % options.blockSize == 0 ? options.blockSize : group))

        var start = 0
        while start < cols {
            let end = Swift.min(cols, start + block)
            let count = end - start
            var errors = [Float](repeating: 0, count: rows * count)
            // Segments of the block: a new group's scales are computed (from all rows) before its
            // first column is quantized.
            var segmentStart = start
            while segmentStart < end {
                let g = order[segmentStart] / group
                if !known[g] {
                    try setScales(
                        ofGroup: g, grid: &grid, work: work, rows: rows, cols: cols, position: position, scheme: scheme,
                        scaleDType: scaleDType, kernels: kernels, tensor: tensor)
                    known[g] = true
                }
                var segmentEnd = segmentStart + 1
                while segmentEnd < end, known[order[segmentEnd] / group] { segmentEnd += 1 }
                quantizeColumns(
                    segmentStart..<segmentEnd, blockEnd: end, blockStart: start, rows: rows, cols: cols, order: order, u: u,
                    grid: grid,
                    work: &work, errors: &errors, codes: &codes, threads: threads)
                segmentStart = segmentEnd
            }
            // Lazy batch: the later columns take this block's errors in one GEMM.
            if end < cols {
                errors.withUnsafeBufferPointer { e in
                    u.values.withUnsafeBufferPointer { up in
                        work.withUnsafeMutableBufferPointer { wp in
                            BLAS.subtractProduct(
                                m: rows, n: cols - end, k: count, a: e.baseAddress!, lda: count,
                                b: up.baseAddress! + start * cols + end, ldb: cols,
                                c: wp.baseAddress! + end, ldc: cols)
                        }
                    }
                }
            }
            start = end
        }
        return Result(codes: codes, parameters: grid.parameters, damping: damping)
    }

    /// Round-to-nearest parameters of one group from the current (error-updated) weights.
    static func setScales(
        ofGroup g: Int, grid: inout LinearGrid, work: [Float], rows: Int, cols: Int, position: [Int], scheme: LinearScheme,
        scaleDType: WeightSpec.ScaleDType, kernels: Kernels, tensor: String
    ) throws {
        let first = g * grid.group
        let last = Swift.min(cols, first + grid.group)
        let width = last - first
        var values = [Float](repeating: 0, count: rows * width)
        for r in 0..<rows {
            for c in first..<last { values[r * width + c - first] = work[r * cols + position[c]] }
        }
        let parameters = try values.withUnsafeBufferPointer {
            try LinearTensorEncoder.rowParameters(
                $0, rows: rows, cols: width, group: width, scheme: scheme, scaleDType: scaleDType, kernels: kernels,
                tensor: tensor)
        }
        for r in 0..<rows {
            let slot = r * grid.groups + g
            grid.scales[slot] = parameters.scales[r]
            grid.inverses[slot] = 1 / parameters.scales[r]
            if let zp = parameters.zeroPoints { grid.zeros?[slot] = zp[r] }
        }
    }

    /// Columns `range` (processing order) of every row: code, error, and the error fed forward to the
    /// rest of the block. Rows are independent here, so they are split across threads.
    static func quantizeColumns(
        _ range: Range<Int>, blockEnd: Int, blockStart: Int, rows: Int, cols: Int, order: [Int], u: Matrix, grid: LinearGrid,
        work: inout [Float], errors: inout [Float], codes: inout [UInt8], threads: Int
    ) {
        let count = blockEnd - blockStart
        let parts = Swift.max(1, Swift.min(threads, rows / 16))
        work.withUnsafeMutableBufferPointer { workBuffer in
            errors.withUnsafeMutableBufferPointer { errorBuffer in
                codes.withUnsafeMutableBufferPointer { codeBuffer in
                    u.values.withUnsafeBufferPointer { up in
                        let w = UncheckedBox(workBuffer)
                        let e = UncheckedBox(errorBuffer)
                        let out = UncheckedBox(codeBuffer)
                        let ub = UncheckedBox(up)
                        DispatchQueue.concurrentPerform(iterations: parts) { part in
                            for r in (rows * part / parts)..<(rows * (part + 1) / parts) {
                                let row = w.value.baseAddress! + r * cols
                                for j in range {
                                    let column = order[j]
                                    let x = row[j]
                                    let q = grid.code(x, row: r, col: column)
                                    out.value[r * cols + column] = LinearGrid.byte(q)
                                    let err = (x - grid.value(q, row: r, col: column)) / ub.value[j * cols + j]
                                    e.value[r * count + j - blockStart] = err
                                    let urow = ub.value.baseAddress! + j * cols
                                    for k in (j + 1)..<blockEnd { row[k] -= err * urow[k] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// GPTQ from outside the pipeline (benchmarks): `weights` out x in, `inputs` samples x in.
public enum GPTQRun {
    /// Hessian, Cholesky factor and the column sweep, as a job does them. Returns the stored codes.
    public static func quantize(
        weights: Matrix, inputs: Matrix, scheme: LinearScheme, options: GPTQOptions = GPTQOptions(), threads: Int
    ) throws -> [UInt8] {
        BLAS.setThreads(threads)
        var group = weights.cols
        if case .group(let size) = scheme.granularity { group = size }
        let hessian = BLAS.gram(inputs, scale: 2 / Float(Swift.max(inputs.rows, 1)))
        return try GPTQ.quantize(
            weights, hessian: hessian, scheme: scheme, scaleDType: .f16, group: group, options: options, kernels: .best,
            threads: threads,
            tensor: "benchmark"
        ).codes
    }

    /// Round-to-nearest of the same matrix (the baseline): scales, then codes.
    public static func nearest(weights: Matrix, scheme: LinearScheme) throws -> [UInt8] {
        var group = weights.cols
        if case .group(let size) = scheme.granularity { group = size }
        let parameters = try weights.values.withUnsafeBufferPointer {
            try LinearTensorEncoder.rowParameters(
                $0, rows: weights.rows, cols: weights.cols, group: group, scheme: scheme, scaleDType: .f16, kernels: .best,
                tensor: "benchmark")
        }
        return LinearGrid(scheme: scheme, cols: weights.cols, group: group, parameters: parameters).codes(of: weights)
    }
}
