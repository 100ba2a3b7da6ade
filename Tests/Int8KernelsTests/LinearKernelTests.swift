import Int8Kernels
import QuantTesting
import Testing

@Suite("Linear kernels: every variant equals the scalar reference")
struct LinearKernelTests {
    @Test(arguments: [1, 2, 3, 4])
    func ranges(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<40 {
            let rows = Int(rng.next() % 7) + 1
            let cols = Int(rng.next() % 300) + 1
            let group = [cols, 1, 16, 32, 33, 128, Int(rng.next() % 50) + 1].randomElement(using: &rng)!
            var x = randomFloats(rows * cols, &rng)
            if rng.next() % 3 == 0 { x[Int(rng.next() % UInt64(x.count))] = .nan }
            if rng.next() % 3 == 0 { x[Int(rng.next() % UInt64(x.count))] = -.infinity }
            let reference = try x.withUnsafeBufferPointer { try Kernels.scalar.minMax($0, rows: rows, cols: cols, group: group) }
            for kernels in fastVariants {
                let fast = try x.withUnsafeBufferPointer { try kernels.minMax($0, rows: rows, cols: cols, group: group) }
                #expect(fast.nonFinite == reference.nonFinite, "seed \(seed) \(kernels.isa)")
                // min/max of equal zeros may differ in sign; compare as values.
                #expect(
                    fast.mins == reference.mins && fast.maxs == reference.maxs,
                    "seed \(seed) \(kernels.isa) \(rows)x\(cols) g\(group)")
            }
        }
    }

    @Test func rangeValues() throws {
        let x: [Float] = [3, -7, 2, .nan, 1, 9, -1, .infinity]
        let r = try x.withUnsafeBufferPointer { try Kernels.best.minMax($0, rows: 2, cols: 4, group: 4) }
        #expect(r.mins == [-7, -1] && r.maxs == [3, 9] && r.nonFinite == 2)
        #expect(r.absMaxs == [7, 9])
    }

    @Test(arguments: [10, 11, 12])
    func quantizeGroupsAndRows(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<60 {
            let rows = Int(rng.next() % 5) + 1
            let cols = Int(rng.next() % 400) + 1
            let group = [cols, 32, 128, 7, Int(rng.next() % 64) + 1].randomElement(using: &rng)!
            let bits = Int(rng.next() % 7) + 2
            let symmetric = rng.next() % 2 == 0
            let (qmin, qmax): (Int32, Int32) = symmetric ? (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) : (0, (1 << bits) - 1)
            let scaleCount = rows * groupsPerRow(cols: cols, group: group)
            let x = randomFloats(rows * cols, &rng, scale: 10)
            let inv = (0..<scaleCount).map { _ in [Float(1), 2, 0.37, 7.9, 100].randomElement(using: &rng)! }
            let zps: [Int32]? = symmetric ? nil : (0..<scaleCount).map { _ in Int32(rng.next() % UInt64(qmax + 1)) }
            func run(_ k: Kernels) throws -> [UInt8] {
                var out = [UInt8](repeating: 0xAA, count: rows * cols)
                try x.withUnsafeBufferPointer { xb in
                    try inv.withUnsafeBufferPointer { ib in
                        try out.withUnsafeMutableBufferPointer { ob in
                            if let zps {
                                try zps.withUnsafeBufferPointer { zb in
                                    try k.quantize(
                                        xb, rows: rows, cols: cols, group: group, invScales: ib, zeroPoints: zb, qmin: qmin,
                                        qmax: qmax, into: ob)
                                }
                            } else {
                                try k.quantize(
                                    xb, rows: rows, cols: cols, group: group, invScales: ib, zeroPoints: nil, qmin: qmin,
                                    qmax: qmax, into: ob)
                            }
                        }
                    }
                }
                return out
            }
            let reference = try run(Kernels.scalar)
            for kernels in fastVariants {
                #expect(try run(kernels) == reference, "seed \(seed) \(kernels.isa) \(rows)x\(cols) g\(group) b\(bits)")
            }
        }
    }

    @Test func quantizeRoundsHalfToEvenAndClamps() throws {
        let x: [Float] = [0.5, 1.5, 2.5, -0.5, -1.5, 1000, -1000, 0.49999997]
        for kernels in Kernels.available {
            var out = [UInt8](repeating: 0, count: x.count)
            try x.withUnsafeBufferPointer { xb in
                try [Float(1)].withUnsafeBufferPointer { ib in
                    try out.withUnsafeMutableBufferPointer { ob in
                        try kernels.quantize(
                            xb, rows: 1, cols: x.count, group: x.count, invScales: ib, zeroPoints: nil, qmin: -128, qmax: 127,
                            into: ob)
                    }
                }
            }
            #expect(out.map { Int8(bitPattern: $0) } == [0, 2, 2, 0, -2, 127, -128, 0], "\(kernels.isa)")
        }
    }

    @Test(arguments: [20, 21])
    func columnsAndDequantize(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<40 {
            let rows = Int(rng.next() % 6) + 1
            let cols = Int(rng.next() % 100) + 1
            let x = randomFloats(rows * cols, &rng)
            let inv = (0..<cols).map { _ in Float(rng.next() % 1000) / 10 + 0.1 }
            let zps = (0..<cols).map { _ in Int32(rng.next() % 256) }
            let codes = (0..<(rows * cols)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let scales = (0..<cols).map { _ in Float(rng.next() % 1000) / 777 }
            let groupScales = (0..<(rows * groupsPerRow(cols: cols, group: 3))).map { _ in Float(rng.next() % 1000) / 333 }
            func run(_ k: Kernels) throws -> ([UInt8], [Float], [Float]) {
                var q = [UInt8](repeating: 0, count: rows * cols)
                var d = [Float](repeating: 0, count: rows * cols)
                var g = [Float](repeating: 0, count: rows * cols)
                try x.withUnsafeBufferPointer { xb in
                    try inv.withUnsafeBufferPointer { ib in
                        try zps.withUnsafeBufferPointer { zb in
                            try q.withUnsafeMutableBufferPointer {
                                try k.quantizeColumns(
                                    xb, rows: rows, cols: cols, invScales: ib, zeroPoints: zb, qmin: 0, qmax: 255, into: $0)
                            }
                        }
                    }
                }
                try codes.withUnsafeBufferPointer { cb in
                    try scales.withUnsafeBufferPointer { sb in
                        try zps.withUnsafeBufferPointer { zb in
                            try d.withUnsafeMutableBufferPointer {
                                try k.dequantizeColumns(
                                    cb, signed: false, rows: rows, cols: cols, scales: sb, zeroPoints: zb, into: $0)
                            }
                        }
                    }
                    try groupScales.withUnsafeBufferPointer { gs in
                        try g.withUnsafeMutableBufferPointer {
                            try k.dequantize(
                                cb, signed: true, rows: rows, cols: cols, group: 3, scales: gs, zeroPoints: nil, into: $0)
                        }
                    }
                }
                return (q, d, g)
            }
            let reference = try run(Kernels.scalar)
            for kernels in fastVariants {
                let fast = try run(kernels)
                #expect(fast.0 == reference.0, "seed \(seed) \(kernels.isa) quantizeColumns")
                #expect(sameBits(fast.1, reference.1), "seed \(seed) \(kernels.isa) dequantizeColumns")
                #expect(sameBits(fast.2, reference.2), "seed \(seed) \(kernels.isa) dequantize")
            }
        }
    }

    /// Column ranges (last-axis channels): every variant equals the reference bit for bit, signed
    /// zeros, infinities and NaN included (skipped and counted), tails of fewer than 8 columns too.
    @Test func columnRangesMatchReference() throws {
        var rng = SplitMix64(seed: 77)
        for round in 0..<40 {
            let rows = Int(rng.next() % 9) + 1
            let cols = Int(rng.next() % 70) + 1
            var x = (0..<(rows * cols)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 64 }
            for i in x.indices where rng.next() % 23 == 0 {
                x[i] = [Float.nan, .infinity, -.infinity, 0, -0.0].randomElement(using: &rng)!
            }
            // Some rounds hold only signed zeros, where min and max differ by which operand wins a tie.
            if round % 4 == 0 { x = x.indices.map { _ in rng.next() % 2 == 0 ? 0 : -0.0 } }
            let reference = try x.withUnsafeBufferPointer { try Kernels.scalar.columnMinMax($0, rows: rows, cols: cols) }
            // The reference is Swift's min and max, column by column.
            for c in 0..<cols {
                let finite = (0..<rows).map { x[$0 * cols + c] }.filter(\.isFinite)
                #expect(
                    sameBits(
                        [reference.mins[c], reference.maxs[c]],
                        [
                            finite.reduce(Float.infinity) { Swift.min($0, $1) },
                            finite.reduce(-Float.infinity) { Swift.max($0, $1) },
                        ]))
            }
            #expect(reference.nonFinite == x.filter { !$0.isFinite }.count)
            for kernels in fastVariants {
                let fast = try x.withUnsafeBufferPointer { try kernels.columnMinMax($0, rows: rows, cols: cols) }
                #expect(
                    sameBits(fast.mins, reference.mins) && sameBits(fast.maxs, reference.maxs)
                        && fast.nonFinite == reference.nonFinite, "\(kernels.isa) \(rows)x\(cols)")
            }
        }
    }

    @Test(arguments: Array(1...8))
    func packAndUnpack(bits: Int) throws {
        var rng = SplitMix64(seed: UInt64(100 + bits))
        for _ in 0..<30 {
            let rows = Int(rng.next() % 4) + 1
            let cols = Int(rng.next() % 300) + 1
            let codes = (0..<(rows * cols)).map { _ in UInt8(truncatingIfNeeded: rng.next()) & UInt8((1 << bits) - 1) }
            let stride = Kernels.packedRowBytes(cols: cols, bits: bits)
            func run(_ k: Kernels, signExtend: Bool) throws -> ([UInt8], [UInt8]) {
                var packed = [UInt8](repeating: 0xFF, count: rows * stride)
                var back = [UInt8](repeating: 0, count: rows * cols)
                try codes.withUnsafeBufferPointer { c in
                    try packed.withUnsafeMutableBufferPointer { try k.pack(c, rows: rows, cols: cols, bits: bits, into: $0) }
                }
                try packed.withUnsafeBufferPointer { p in
                    try back.withUnsafeMutableBufferPointer {
                        try k.unpack(p, rows: rows, cols: cols, bits: bits, signExtend: signExtend, into: $0)
                    }
                }
                return (packed, back)
            }
            let reference = try run(Kernels.scalar, signExtend: false)
            #expect(reference.1 == codes, "round trip, \(bits) bits")
            // Element i of a row sits at bits [i*bits, (i+1)*bits), least significant first.
            let firstField = Int(reference.0[0]) & ((1 << bits) - 1)
            #expect(firstField == Int(codes[0]))
            let signed = try run(Kernels.scalar, signExtend: true)
            let expectedSigned = codes.map { c -> UInt8 in
                bits < 8 && c & UInt8(1 << (bits - 1)) != 0 ? c | ~UInt8((1 << bits) - 1) : c
            }
            #expect(signed.1 == expectedSigned)
            for kernels in fastVariants {
                #expect(try run(kernels, signExtend: false) == reference, "\(kernels.isa) \(bits) bits \(rows)x\(cols)")
                #expect(try run(kernels, signExtend: true) == signed, "\(kernels.isa) \(bits) bits signed")
            }
        }
    }
}

@Suite("Error statistics")
struct ErrorStatisticsTests {
    @Test func variantsAgreeWithReference() throws {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<20 {
            let rows = Int(rng.next() % 5) + 1
            let cols = Int(rng.next() % 700) + 1
            let group = [cols, 32, 7].randomElement(using: &rng)!
            let x = randomFloats(rows * cols, &rng)
            let codes = (0..<(rows * cols)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let scales = (0..<(rows * groupsPerRow(cols: cols, group: group))).map { _ in Float(rng.next() % 100) / 300 }
            let zeros = scales.map { _ in Int32(rng.next() % 256) }
            var reconstructed = [Float](repeating: 0, count: x.count)
            try codes.withUnsafeBufferPointer { c in
                try scales.withUnsafeBufferPointer { s in
                    try zeros.withUnsafeBufferPointer { z in
                        try reconstructed.withUnsafeMutableBufferPointer {
                            try Kernels.scalar.dequantize(
                                c, signed: false, rows: rows, cols: cols, group: group, scales: s, zeroPoints: z, into: $0)
                        }
                    }
                }
            }
            var exact = (xx: 0.0, ee: 0.0, worst: Float(0))
            for i in x.indices {
                let e = x[i] - reconstructed[i]
                exact.xx += Double(x[i]) * Double(x[i])
                exact.ee += Double(e) * Double(e)
                exact.worst = max(exact.worst, abs(e))
            }
            for kernels in Kernels.available {
                var linear = ErrorSums()
                var plain = ErrorSums()
                try x.withUnsafeBufferPointer { xb in
                    try codes.withUnsafeBufferPointer { c in
                        try scales.withUnsafeBufferPointer { s in
                            try zeros.withUnsafeBufferPointer { z in
                                try kernels.linearError(
                                    xb, codes: c, signed: false, rows: rows, cols: cols, group: group, scales: s, zeroPoints: z,
                                    into: &linear)
                            }
                        }
                    }
                    try reconstructed.withUnsafeBufferPointer { try kernels.error(xb, reconstructed: $0, into: &plain) }
                }
                for sums in [linear, plain] {
                    #expect(sums.count == x.count && sums.maxAbsError == exact.worst, "\(kernels.isa)")
                    #expect(abs(sums.sumSquares - exact.xx) <= 1e-5 * exact.xx, "\(kernels.isa)")
                    #expect(abs(sums.sumSquaredError - exact.ee) <= 1e-5 * exact.ee + 1e-12, "\(kernels.isa)")
                }
            }
        }
    }
}
