import Int8Kernels
import QuantTesting
import Testing

@Suite("Int8 GEMM")
struct GEMMTests {
    static func naive(_ a: [Int8], _ b: [Int8], m: Int, n: Int, k: Int) -> [Int32] {
        var c = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var acc: Int32 = 0
                for t in 0..<k { acc += Int32(a[i * k + t]) * Int32(b[j * k + t]) }
                c[i * n + j] = acc
            }
        }
        return c
    }

    @Test(arguments: [1, 2, 3])
    func everyVariantIsExact(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<25 {
            let m = Int(rng.next() % 40) + 1
            let n = Int(rng.next() % 70) + 1
            let k = Int(rng.next() % 150) + 1
            // Extremes included: -128 * -128 and 127 * -128 are where shortcuts overflow.
            let a = (0..<(m * k)).map { _ in rng.next() % 5 == 0 ? Int8.min : Int8(truncatingIfNeeded: rng.next()) }
            let b = (0..<(n * k)).map { _ in rng.next() % 5 == 0 ? Int8.min : Int8(truncatingIfNeeded: rng.next()) }
            let expected = Self.naive(a, b, m: m, n: n, k: k)
            let prepared = try b.withUnsafeBufferPointer { try PreparedMatrix($0, rows: n, cols: k) }
            let aScales = (0..<m).map { _ in Float(rng.next() % 100) / 37 }
            let bScales = (0..<n).map { _ in Float(rng.next() % 100) / 91 }
            let referenceF = try a.withUnsafeBufferPointer {
                try Kernels.scalar.gemm($0, m: m, b: prepared, aScales: aScales, bScales: bScales)
            }
            for kernels in Kernels.available {
                for threads in [1, 2] {
                    let c = try a.withUnsafeBufferPointer { try kernels.gemm($0, m: m, b: prepared, threads: threads) }
                    #expect(c == expected, "seed \(seed) \(kernels.isa) m\(m) n\(n) k\(k) t\(threads)")
                    let f = try a.withUnsafeBufferPointer {
                        try kernels.gemm($0, m: m, b: prepared, aScales: aScales, bScales: bScales, threads: threads)
                    }
                    #expect(sameBits(f, referenceF), "seed \(seed) \(kernels.isa) fp32 epilogue")
                }
            }
            #expect(sameBits(referenceF, (0..<(m * n)).map { Float(expected[$0]) * aScales[$0 / n] * bScales[$0 % n] }))
        }
    }

    /// Long rows: the AVX2 kernel widens B a few panels at a time (about 256 KiB), so with k in the
    /// thousands each 16-column panel is its own group, and A is widened 30 rows at a time; odd m,
    /// n and k leave tails everywhere.
    @Test func longRowsSpanSeveralPanelGroups() throws {
        var rng = SplitMix64(seed: 9)
        let m = 71
        let n = 45
        let k = 4101
        let a = (0..<(m * k)).map { _ in Int8(truncatingIfNeeded: rng.next()) }
        let b = (0..<(n * k)).map { _ in Int8(truncatingIfNeeded: rng.next()) }
        let expected = Self.naive(a, b, m: m, n: n, k: k)
        let prepared = try b.withUnsafeBufferPointer { try PreparedMatrix($0, rows: n, cols: k) }
        for kernels in Kernels.available {
            let c = try a.withUnsafeBufferPointer { try kernels.gemm($0, m: m, b: prepared, threads: 2) }
            #expect(c == expected, "\(kernels.isa)")
        }
    }

    @Test func shapesAreChecked() throws {
        let prepared = try [Int8](repeating: 1, count: 6).withUnsafeBufferPointer { try PreparedMatrix($0, rows: 2, cols: 3) }
        #expect(throws: KernelError.self) {
            try [Int8](repeating: 1, count: 5).withUnsafeBufferPointer { try Kernels.best.gemm($0, m: 2, b: prepared) }
        }
    }
}
