import CInt8Kernels

/// Range reduction results: one entry per group (per row when group == cols).
public struct Ranges: Sendable, Equatable {
    public var mins: [Float]
    public var maxs: [Float]
    /// Inputs that were NaN or ±Inf (skipped by the reduction).
    public var nonFinite: Int

    /// max(|min|, |max|) per group.
    public var absMaxs: [Float] { zip(mins, maxs).map { Swift.max(-$0, $1) } }
}

extension Kernels {
    /// Min and max of each group of `group` elements along each row of a rows x cols matrix.
    /// Per-tensor: rows = 1, group = cols. Per-row: group = cols.
    public func minMax(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, group: Int) throws -> Ranges {
        try require(rows >= 0 && cols >= 0 && x.count >= rows * cols, "input holds \(x.count) values, need \(rows) x \(cols)")
        try require(group > 0 || cols == 0, "group size must be positive")
        let count = rows * groupsPerRow(cols: cols, group: Swift.max(group, 1))
        var mins = [Float](repeating: .infinity, count: count)
        var maxs = [Float](repeating: -.infinity, count: count)
        guard rows > 0 && cols > 0 else { return Ranges(mins: mins, maxs: maxs, nonFinite: 0) }
        let bad = mins.withUnsafeMutableBufferPointer { lo in
            maxs.withUnsafeMutableBufferPointer { hi in
                table.pointee.minmax(x.baseAddress, rows, cols, group, lo.baseAddress, hi.baseAddress)
            }
        }
        return Ranges(mins: mins, maxs: maxs, nonFinite: bad)
    }

    /// Min and max of each column of a rows x cols matrix (per-channel ranges on the last axis),
    /// non-finite values skipped and counted. Columns with no finite value stay +Inf / -Inf.
    public func columnMinMax(_ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int) throws -> Ranges {
        try require(rows >= 0 && cols >= 0 && x.count >= rows * cols, "input holds \(x.count) values, need \(rows) x \(cols)")
        var mins = [Float](repeating: .infinity, count: cols)
        var maxs = [Float](repeating: -.infinity, count: cols)
        guard rows > 0 && cols > 0 else { return Ranges(mins: mins, maxs: maxs, nonFinite: 0) }
        let bad = mins.withUnsafeMutableBufferPointer { lo in
            maxs.withUnsafeMutableBufferPointer { hi in
                table.pointee.minmax_cols(x.baseAddress, rows, cols, lo.baseAddress, hi.baseAddress)
            }
        }
        return Ranges(mins: mins, maxs: maxs, nonFinite: bad)
    }

    /// q = clamp(round_half_even(x * invScale) + zeroPoint, qmin, qmax), as the low byte of q.
    /// One scale (and zero point) per group, indexed row * groupsPerRow + col / group.
    public func quantize(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, group: Int, invScales: UnsafeBufferPointer<Float>,
        zeroPoints: UnsafeBufferPointer<Int32>?, qmin: Int32, qmax: Int32, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws {
        let scales = rows * groupsPerRow(cols: cols, group: Swift.max(group, 1))
        try checkLinear(x.count, rows, cols, group, invScales.count, zeroPoints?.count, scales, out.count)
        try require(qmin <= qmax && qmin >= -128 && qmax <= 255, "code range [\(qmin), \(qmax)] does not fit a byte")
        guard rows > 0 && cols > 0 else { return }
        table.pointee.quantize(
            x.baseAddress, rows, cols, group, invScales.baseAddress, zeroPoints?.baseAddress, qmin, qmax, out.baseAddress)
    }

    /// The same with one scale per column (per-channel along the last axis).
    public func quantizeColumns(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, invScales: UnsafeBufferPointer<Float>,
        zeroPoints: UnsafeBufferPointer<Int32>?, qmin: Int32, qmax: Int32, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws {
        try checkLinear(x.count, rows, cols, cols, invScales.count, zeroPoints?.count, cols, out.count)
        try require(qmin <= qmax && qmin >= -128 && qmax <= 255, "code range [\(qmin), \(qmax)] does not fit a byte")
        guard rows > 0 && cols > 0 else { return }
        table.pointee.quantize_cols(
            x.baseAddress, rows, cols, invScales.baseAddress, zeroPoints?.baseAddress, qmin, qmax, out.baseAddress)
    }

    /// r = scale * (q - zeroPoint), codes read as Int8 when `signed`, else UInt8.
    public func dequantize(
        _ q: UnsafeBufferPointer<UInt8>, signed: Bool, rows: Int, cols: Int, group: Int, scales: UnsafeBufferPointer<Float>,
        zeroPoints: UnsafeBufferPointer<Int32>?, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        let count = rows * groupsPerRow(cols: cols, group: Swift.max(group, 1))
        try checkLinear(q.count, rows, cols, group, scales.count, zeroPoints?.count, count, out.count)
        guard rows > 0 && cols > 0 else { return }
        table.pointee.dequantize(
            q.baseAddress, signed ? 1 : 0, rows, cols, group, scales.baseAddress, zeroPoints?.baseAddress, out.baseAddress)
    }

    public func dequantizeColumns(
        _ q: UnsafeBufferPointer<UInt8>, signed: Bool, rows: Int, cols: Int, scales: UnsafeBufferPointer<Float>,
        zeroPoints: UnsafeBufferPointer<Int32>?, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        try checkLinear(q.count, rows, cols, cols, scales.count, zeroPoints?.count, cols, out.count)
        guard rows > 0 && cols > 0 else { return }
        table.pointee.dequantize_cols(
            q.baseAddress, signed ? 1 : 0, rows, cols, scales.baseAddress, zeroPoints?.baseAddress, out.baseAddress)
    }

    private func checkLinear(
        _ inCount: Int, _ rows: Int, _ cols: Int, _ group: Int, _ scaleCount: Int, _ zeroCount: Int?, _ needed: Int,
        _ outCount: Int
    ) throws {
        try require(rows >= 0 && cols >= 0, "negative shape")
        try require(group > 0 || rows * cols == 0, "group size must be positive")
        try require(
            inCount >= rows * cols && outCount >= rows * cols, "buffers hold \(inCount) in / \(outCount) out, need \(rows * cols)"
        )
        try require(scaleCount >= needed, "\(scaleCount) scales given, need \(needed)")
        if let zeroCount { try require(zeroCount >= needed, "\(zeroCount) zero points given, need \(needed)") }
    }

    /// Bytes per packed row of `cols` fields of `bits` bits.
    public static func packedRowBytes(cols: Int, bits: Int) -> Int { (cols * bits + 7) / 8 }

    /// Packs the low `bits` (1-8) of each code, least significant bit first, rows padded to bytes.
    public func pack(
        _ codes: UnsafeBufferPointer<UInt8>, rows: Int, cols: Int, bits: Int, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws {
        try require((1...8).contains(bits), "bits must be 1 to 8, got \(bits)")
        try require(codes.count >= rows * cols, "codes hold \(codes.count), need \(rows * cols)")
        try require(out.count >= rows * Self.packedRowBytes(cols: cols, bits: bits), "output too small for packed rows")
        guard rows > 0 && cols > 0 else { return }
        table.pointee.pack(codes.baseAddress, rows, cols, Int32(bits), out.baseAddress)
    }

    /// Unpacks fields; with `signExtend`, as `bits`-wide two's complement (stored as Int8 bytes).
    public func unpack(
        _ packed: UnsafeBufferPointer<UInt8>, rows: Int, cols: Int, bits: Int, signExtend: Bool,
        into out: UnsafeMutableBufferPointer<UInt8>
    ) throws {
        try require((1...8).contains(bits), "bits must be 1 to 8, got \(bits)")
        try require(packed.count >= rows * Self.packedRowBytes(cols: cols, bits: bits), "packed input too small")
        try require(out.count >= rows * cols, "output holds \(out.count), need \(rows * cols)")
        guard rows > 0 && cols > 0 else { return }
        table.pointee.unpack(packed.baseAddress, rows, cols, Int32(bits), signExtend ? 1 : 0, out.baseAddress)
    }
}

/// Reconstruction-error sums, for the report's MSE, SQNR, cosine and max error.
public struct ErrorSums: Sendable, Equatable {
    public var count = 0
    public var sumSquares: Double = 0
    public var sumSquaredError: Double = 0
    public var sumProducts: Double = 0
    public var sumReconstructedSquares: Double = 0
    public var maxAbsError: Float = 0

    public init() {}

    mutating func add(_ stats: qk_error_stats, count: Int) {
        self.count += count
        sumSquares += stats.sum_xx
        sumSquaredError += stats.sum_ee
        sumProducts += stats.sum_xr
        sumReconstructedSquares += stats.sum_rr
        maxAbsError = Swift.max(maxAbsError, stats.max_abs)
    }
}

extension Kernels {
    /// Adds the error of r = scale * (q - zeroPoint) against x (row/group scale layout) to `sums`.
    public func linearError(
        _ x: UnsafeBufferPointer<Float>, codes: UnsafeBufferPointer<UInt8>, signed: Bool, rows: Int, cols: Int, group: Int,
        scales: UnsafeBufferPointer<Float>, zeroPoints: UnsafeBufferPointer<Int32>?, into sums: inout ErrorSums
    ) throws {
        let needed = rows * groupsPerRow(cols: cols, group: Swift.max(group, 1))
        try require(x.count >= rows * cols && codes.count >= rows * cols, "buffers smaller than \(rows) x \(cols)")
        try require(scales.count >= needed && (zeroPoints?.count ?? needed) >= needed, "need \(needed) scales")
        try require(group > 0 || rows * cols == 0, "group size must be positive")
        guard rows > 0 && cols > 0 else { return }
        var stats = qk_error_stats()
        table.pointee.linear_error(
            x.baseAddress, codes.baseAddress, signed ? 1 : 0, rows, cols, group, scales.baseAddress, zeroPoints?.baseAddress,
            &stats)
        sums.add(stats, count: rows * cols)
    }

    /// Adds the error of `reconstructed` against `x` to `sums`.
    public func error(_ x: UnsafeBufferPointer<Float>, reconstructed: UnsafeBufferPointer<Float>, into sums: inout ErrorSums)
        throws
    {
        try require(x.count == reconstructed.count, "\(x.count) originals, \(reconstructed.count) reconstructions")
        guard !x.isEmpty else { return }
        var stats = qk_error_stats()
        table.pointee.error(x.baseAddress, reconstructed.baseAddress, x.count, &stats)
        sums.add(stats, count: x.count)
    }
}

extension Kernels {
    /// Σ (x - dequantize(quantize(x)))² for one linear quantizer (the mse clipping search), in
    /// blocks of 32; stops after the block that passes `bound`. Every ISA gives the same bits.
    public func candidateError(
        _ x: UnsafeBufferPointer<Float>, inverse: Float, scale: Float, zero: Float, qmin: Float, qmax: Float, bound: Double
    ) -> Double {
        guard let base = x.baseAddress, !x.isEmpty else { return 0 }
        let candidate = qk_candidate(inverse: inverse, scale: scale, zero: zero, qmin: qmin, qmax: qmax)
        return table.pointee.candidate_error(base, x.count, candidate, bound)
    }
}
