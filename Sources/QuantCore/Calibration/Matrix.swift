import COpenBLAS

/// A dense row-major fp32 matrix: layer inputs X (samples x in), weights W (out x in), Hessians.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    public var values: [Float]

    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols, "internal: matrix storage does not match its shape")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    public init(zeros rows: Int, _ cols: Int) {
        self.init(rows: rows, cols: cols, values: [Float](repeating: 0, count: rows * cols))
    }

    /// A copy of rows `range`.
    public func rows(_ range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, cols: cols, values: Array(values[(range.lowerBound * cols)..<(range.upperBound * cols)]))
    }

    public subscript(row: Int, col: Int) -> Float {
        get { values[row * cols + col] }
        set { values[row * cols + col] = newValue }
    }
}

/// The fp32 linear algebra of calibration, on OpenBLAS (docs/CALIBRATION.md says why a library):
/// products with the layer inputs, Gram matrices, and the Cholesky factors of GPTQ.
public enum BLAS {
    /// Threads OpenBLAS may use (process-wide; the pipeline sets it to its own thread count).
    public static func setThreads(_ threads: Int) { openblas_set_num_threads(Int32(Swift.max(1, threads))) }

    /// A · Bᵀ for A (m x k) and B (n x k): the outputs X·Wᵀ of a linear layer.
    public static func multiplyTransposed(_ a: Matrix, _ b: Matrix) -> Matrix { product(a, b, transposeB: true) }

    /// A · B for A (m x k) and B (k x n).
    public static func multiply(_ a: Matrix, _ b: Matrix) -> Matrix { product(a, b) }

    /// Aᵀ · B for A (k x m) and B (k x n): weight gradients δᵀ·X.
    public static func transposedMultiply(_ a: Matrix, _ b: Matrix) -> Matrix { product(a, b, transposeA: true) }

    static func product(_ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false) -> Matrix {
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let n = transposeB ? b.rows : b.cols
        precondition(k == (transposeB ? b.cols : b.rows), "internal: inner dimensions differ")
        var c = Matrix(zeros: m, n)
        guard m > 0, n > 0, k > 0 else { return c }
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m),
                        Int32(n), Int32(k), 1,
                        pa.baseAddress, Int32(a.cols), pb.baseAddress, Int32(b.cols), 0, pc.baseAddress, Int32(n))
                }
            }
        }
        return c
    }

    /// C[0..<m, 0..<n] -= A (m x k) · B (k x n) on raw row-major views with leading dimensions:
    /// GPTQ's lazy batch update of the columns after a block.
    static func subtractProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), -1, a, Int32(lda), b, Int32(ldb), 1, c,
            Int32(ldc))
    }

    /// Xᵀ·X scaled by `scale` (k x k, both triangles filled): the Hessian of a layer's output error.
    public static func gram(_ x: Matrix, scale: Float = 1) -> Matrix {
        var c = Matrix(zeros: x.cols, x.cols)
        guard x.rows > 0, x.cols > 0 else { return c }
        x.values.withUnsafeBufferPointer { px in
            c.values.withUnsafeMutableBufferPointer { pc in
                cblas_ssyrk(
                    CblasRowMajor, CblasUpper, CblasTrans, Int32(x.cols), Int32(x.rows), scale, px.baseAddress, Int32(x.cols), 0,
                    pc.baseAddress, Int32(x.cols))
            }
        }
        for r in 0..<x.cols {
            for col in 0..<r { c[r, col] = c[col, r] }
        }
        return c
    }

    /// The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) for a symmetric positive definite H, as GPTQ
    /// needs it; nil when H is not positive definite (the caller dampens more and retries).
    /// Row-major upper is column-major lower, so LAPACK runs with 'L' throughout.
    static func inverseCholeskyUpper(_ h: Matrix) -> Matrix? {
        let n = h.rows
        var a = h.values
        var size = Int32(n)
        var info: Int32 = 0
        var lower = CChar(UInt8(ascii: "L"))
        a.withUnsafeMutableBufferPointer { p in spotrf_(&lower, &size, p.baseAddress, &size, &info) }
        guard info == 0 else { return nil }
        a.withUnsafeMutableBufferPointer { p in spotri_(&lower, &size, p.baseAddress, &size, &info) }
        guard info == 0 else { return nil }
        a.withUnsafeMutableBufferPointer { p in spotrf_(&lower, &size, p.baseAddress, &size, &info) }
        guard info == 0 else { return nil }
        // Column-major lower = row-major upper; clear the other triangle (LAPACK leaves it as it was).
        for r in 0..<n {
            for c in 0..<r { a[r * n + c] = 0 }
        }
        return Matrix(rows: n, cols: n, values: a)
    }
}
