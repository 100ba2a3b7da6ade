import CInt8Kernels
import Dispatch

/// B of an int8 GEMM, packed once (N x K, row-major int8) and reusable across calls and threads.
public final class PreparedMatrix: @unchecked Sendable {
    let pointer: OpaquePointer
    public let rows: Int
    public let cols: Int

    /// `values` is N x K, row-major.
    public init(_ values: UnsafeBufferPointer<Int8>, rows: Int, cols: Int) throws {
        try require(rows >= 0 && cols >= 0 && values.count >= rows * cols, "matrix holds \(values.count), need \(rows) x \(cols)")
        guard let prepared = qk_gemm_prepare(values.baseAddress, cols, rows, cols) else {
            throw KernelError("out of memory packing a \(rows) x \(cols) matrix")
        }
        pointer = prepared
        self.rows = rows
        self.cols = cols
    }

    deinit { qk_gemm_free(pointer) }
}

extension Kernels {
    /// C = A · Bᵀ in int32: A is M x K int8 (row-major), B prepared (N x K). Rows of A are split
    /// across `threads`.
    public func gemm(_ a: UnsafeBufferPointer<Int8>, m: Int, b: PreparedMatrix, threads: Int = 1) throws -> [Int32] {
        try require(a.count >= m * b.cols, "A holds \(a.count), need \(m) x \(b.cols)")
        var c = [Int32](repeating: 0, count: m * b.rows)
        c.withUnsafeMutableBufferPointer { out in
            let base = UncheckedSendable(out.baseAddress)
            let input = UncheckedSendable(a.baseAddress)
            Parallel.rows(m, threads: threads, grain: 8) { range in
                table.pointee.gemm(
                    b.pointer, input.value, b.cols, range.lowerBound, range.upperBound, base.value, nil, b.rows, nil, nil)
            }
        }
        return c
    }

    /// C = (A · Bᵀ) scaled per row of A and per row of B: c[m, n] = ((float)acc * aScales[m]) * bScales[n].
    public func gemm(
        _ a: UnsafeBufferPointer<Int8>, m: Int, b: PreparedMatrix, aScales: [Float], bScales: [Float], threads: Int = 1
    ) throws -> [Float] {
        try require(a.count >= m * b.cols, "A holds \(a.count), need \(m) x \(b.cols)")
        try require(aScales.count >= m && bScales.count >= b.rows, "need \(m) row scales and \(b.rows) column scales")
        var c = [Float](repeating: 0, count: m * b.rows)
        aScales.withUnsafeBufferPointer { sa in
            bScales.withUnsafeBufferPointer { sb in
                c.withUnsafeMutableBufferPointer { out in
                    let base = UncheckedSendable(out.baseAddress)
                    let input = UncheckedSendable(a.baseAddress)
                    let scales = UncheckedSendable((sa.baseAddress, sb.baseAddress))
                    Parallel.rows(m, threads: threads, grain: 8) { range in
                        table.pointee.gemm(
                            b.pointer, input.value, b.cols, range.lowerBound, range.upperBound, nil, base.value, b.rows,
                            scales.value.0, scales.value.1)
                    }
                }
            }
        }
        return c
    }
}
