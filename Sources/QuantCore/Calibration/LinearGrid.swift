/// The linear grid of one weight matrix (rows = output channels): codes exactly as the quantize
/// kernels compute them (x · 1/S clamped to [qmin - Z, qmax - Z], rounded half to even, plus Z), so
/// calibrated rounding and round-to-nearest agree wherever they make the same choice.
struct LinearGrid {
    let scheme: LinearScheme
    let cols: Int
    /// Values per scale along a row (cols for channel scales).
    let group: Int
    let groups: Int
    var scales: [Float]
    var inverses: [Float]
    var zeros: [Int32]?

    init(scheme: LinearScheme, rows: Int, cols: Int, group: Int) {
        self.scheme = scheme
        self.cols = cols
        self.group = group
        groups = (cols + group - 1) / Swift.max(group, 1)
        scales = [Float](repeating: 1, count: rows * groups)
        inverses = scales
        zeros = scheme.symmetric ? nil : [Int32](repeating: 0, count: rows * groups)
    }

    init(scheme: LinearScheme, cols: Int, group: Int, parameters: LinearParameters) {
        self.scheme = scheme
        self.cols = cols
        self.group = group
        groups = (cols + group - 1) / Swift.max(group, 1)
        scales = parameters.scales
        inverses = parameters.inverseScales
        zeros = parameters.zeroPoints
    }

    var parameters: LinearParameters { LinearParameters(scales: scales, zeroPoints: zeros) }

    @inline(__always) func slot(_ row: Int, _ col: Int) -> Int { row * groups + col / group }

    /// The integer code of `x` at (row, col): qmin...qmax.
    @inline(__always) func code(_ x: Float, row: Int, col: Int) -> Int32 {
        let s = slot(row, col)
        let zero = zeros?[s] ?? 0
        var v = x * inverses[s]
        v = Swift.min(Swift.max(v, Float(scheme.qmin - zero)), Float(scheme.qmax - zero))
        return Int32(v.rounded(.toNearestOrEven)) + zero
    }

    /// The value code `q` stands for at (row, col).
    @inline(__always) func value(_ q: Int32, row: Int, col: Int) -> Float {
        let s = slot(row, col)
        return Float(q - (zeros?[s] ?? 0)) * scales[s]
    }

    /// The byte a code is stored as: two's complement when symmetric, unsigned otherwise.
    @inline(__always) static func byte(_ q: Int32) -> UInt8 { UInt8(truncatingIfNeeded: q) }

    /// Round-to-nearest codes (stored bytes) of a whole matrix on this grid.
    func codes(of w: Matrix) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: w.values.count)
        for r in 0..<w.rows {
            for c in 0..<w.cols { out[r * w.cols + c] = Self.byte(code(w.values[r * w.cols + c], row: r, col: c)) }
        }
        return out
    }

    /// What stored codes stand for, as a rows x cols matrix.
    func values(of codes: [UInt8], rows: Int) -> Matrix {
        var out = Matrix(zeros: rows, cols)
        for r in 0..<rows {
            for c in 0..<cols {
                let byte = codes[r * cols + c]
                out.values[r * cols + c] = value(scheme.signedCodes ? Int32(Int8(bitPattern: byte)) : Int32(byte), row: r, col: c)
            }
        }
        return out
    }
}
