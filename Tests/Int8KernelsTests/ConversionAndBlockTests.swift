import Int8Kernels
import ModelFormats
import QuantTesting
import Testing

@Suite("Conversions and ggml blocks: every variant equals the scalar reference")
struct ConversionAndBlockTests {
    /// Every code of every source format, against the scalar kernel and against ModelFormats'
    /// independent minifloat decoder.
    @Test(arguments: Kernels.SourceFormat.allCases)
    func everyCode(format: Kernels.SourceFormat) throws {
        let count = format.bytesPerElement == 2 ? 65536 : 256
        var bytes: [UInt8] = []
        for code in 0..<count {
            bytes.append(UInt8(code & 0xFF))
            if format.bytesPerElement == 2 { bytes.append(UInt8(code >> 8)) }
        }
        func run(_ k: Kernels) throws -> [Float] {
            var out = [Float](repeating: 0, count: count)
            try bytes.withUnsafeBytes { b in try out.withUnsafeMutableBufferPointer { try k.convertToFloat(format, b, into: $0) }
            }
            return out
        }
        let reference = try run(Kernels.scalar)
        let miniFloat: MiniFloatFormat =
            switch format {
            case .fp16: .fp16
            case .bf16: .bf16
            case .fp8E4M3: .fp8E4M3
            case .fp8E5M2: .fp8E5M2
            }
        #expect(sameBits(reference, (0..<count).map { miniFloat.decode(UInt32($0)) }))
        for kernels in fastVariants { #expect(sameBits(try run(kernels), reference), "\(kernels.isa) \(format)") }
        // Odd lengths exercise the tails.
        for length in [1, 15, 17, 33] {
            var out = [Float](repeating: 0, count: length)
            try bytes.withUnsafeBytes { b in
                try out.withUnsafeMutableBufferPointer { try Kernels.best.convertToFloat(format, b, into: $0) }
            }
            #expect(sameBits(out, Array(reference.prefix(length))))
        }
    }

    @Test func fp16RoundingMatchesModelFormats() {
        var rng = SplitMix64(seed: 77)
        for _ in 0..<200_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            #expect(UInt32(fp16Bits(value)) == MiniFloatFormat.fp16.encode(value) || value.isNaN)
        }
    }

    /// Blocks built to hit every branch: all zeros (both signs), a constant block, equal magnitudes
    /// of both signs (the first wins), exact ties for `+ 8.5`, and plain random data.
    static func trickyBlocks(_ rng: inout SplitMix64, count: Int) -> [Float] {
        var x: [Float] = []
        for block in 0..<count {
            switch block % 8 {
            case 0: x += (0..<32).map { _ in rng.next() % 2 == 0 ? 0.0 : -0.0 }
            case 1: x += [Float](repeating: 1.25, count: 32)
            case 2:
                var b = randomFloats(32, &rng)
                b[3] = 5
                b[20] = -5
                x += b
            case 3: x += (0..<32).map { Float(Int($0) - 16) * 0.5 }  // halves of a power-of-two scale
            case 4: x += (0..<32).map { Float(Int($0) - 8) }
            case 5: x += (0..<32).map { $0 == 0 ? 127 : Float(Int($0) - 16) + 0.5 }  // Q8_0's scale is 1: exact ties for roundf
            default: x += randomFloats(32, &rng, scale: Float(block % 5 + 1) * 0.3)
            }
        }
        return x
    }

    @Test(arguments: GGMLType.blockQuantized)
    func blocksMatchReference(format: GGMLType) throws {
        var rng = SplitMix64(seed: 5)
        let x = Self.trickyBlocks(&rng, count: 104)  // 3328 values: 104 blocks of 32, 13 of 256 (an odd tail)
        func run(_ k: Kernels) throws -> ([UInt8], [Float]) {
            var blocks = [UInt8](repeating: 0, count: format.blockBytes(elements: x.count))
            var back = [Float](repeating: 0, count: x.count)
            try x.withUnsafeBufferPointer { xb in try blocks.withUnsafeMutableBytes { try k.quantizeBlocks(format, xb, into: $0) }
            }
            try blocks.withUnsafeBytes { b in
                try back.withUnsafeMutableBufferPointer { try k.dequantizeBlocks(format, b, into: $0) }
            }
            return (blocks, back)
        }
        let reference = try run(Kernels.scalar)
        for kernels in fastVariants {
            let fast = try run(kernels)
            #expect(fast.0 == reference.0, "\(kernels.isa) \(format) blocks")
            #expect(sameBits(fast.1, reference.1), "\(kernels.isa) \(format) dequantized")
        }
        if format.isKQuant {
            // Within one code step of the super-block's largest sub-block: Q6_K's and Q3_K's signed
            // codes have 32 and 4 levels a side of 0; Q2_K, Q4_K and Q5_K span
            // [min(0, lowest), highest] in 3, 15 or 31 steps.
            // (+1e-6: fp16 super-scales cannot hold the steps of blocks of tiny values.)
            for block in 0..<(x.count / 256) {
                let values = x[(block * 256)..<(block * 256 + 256)]
                let bound =
                    switch format {
                    case .q6_K: values.map(\.magnitude).max()! / 31
                    case .q3_K: values.map(\.magnitude).max()! / 4
                    case .q5_K: (Swift.max(0, values.max()!) - Swift.min(0, values.min()!)) / 31
                    case .q2_K: (Swift.max(0, values.max()!) - Swift.min(0, values.min()!)) / 3
                    default: (Swift.max(0, values.max()!) - Swift.min(0, values.min()!)) / 15
                    }
                for i in values.indices { #expect(abs(reference.1[i] - x[i]) <= bound + 1e-6, "\(format) block \(block)") }
            }
            return
        }
        // Round-trip error stays within one quantization step of each block.
        for block in 0..<(x.count / 32) {
            let values = x[(block * 32)..<(block * 32 + 32)]
            let range = (values.max()! - values.min()!)
            let steps: Float = format == .q8_0 ? 127 : (format == .q4_0 || format == .q4_1 ? 7 : 15)
            // MXFP4's grid is a power-of-two scale times E2M1: the step near the block maximum is a
            // quarter of 2^floor(log2 amax) x 2, so a value can miss by up to amax / 4.
            let amax = values.map(\.magnitude).max()!
            let bound = format == .mxfp4 ? amax / 4 : range / steps
            for j in 0..<32 {
                let i = block * 32 + j
                #expect(abs(reference.1[i] - x[i]) <= bound + 1e-3 + abs(x[i]) * 1e-3, "\(format) block \(block)")
            }
        }
    }

    /// Every format with importance weights (llama.cpp's imatrix path): every variant gives the
    /// scalar reference's bytes (checked against a NumPy port of ggml in Tests/Interop).
    @Test(arguments: GGMLType.blockQuantized.filter(\.takesImportance))
    func importanceWeightedBlocksMatchReference(format: GGMLType) throws {
        var rng = SplitMix64(seed: 7)
        // Blocks of 32: rows of 736 (23 blocks: two groups of 8 lanes and a tail); the K-quants: rows
        // of 768 (three super-blocks each: pairs and a tail).
        let cols = format.isKQuant ? 768 : 736
        let x = Self.trickyBlocks(&rng, count: cols / 8)  // 4 rows
        let importance = (0..<cols).map { Float(($0 * 37) % 101) / 10 }  // zeros included
        func run(_ k: Kernels) throws -> [UInt8] {
            var blocks = [UInt8](repeating: 0, count: format.blockBytes(elements: x.count))
            try x.withUnsafeBufferPointer { xb in
                try importance.withUnsafeBufferPointer { w in
                    try blocks.withUnsafeMutableBytes { try k.quantizeBlocks(format, xb, importance: w, into: $0) }
                }
            }
            return blocks
        }
        let reference = try run(Kernels.scalar)
        #expect(reference.contains { $0 != 0 })
        for kernels in fastVariants { #expect(try run(kernels) == reference, "\(kernels.isa) \(format)") }
    }

    @Test func blockSizesAreChecked() {
        var wide = [UInt8](repeating: 0, count: 420)
        #expect(throws: KernelError.self) {
            try [Float](repeating: 1, count: 288).withUnsafeBufferPointer { x in
                try wide.withUnsafeMutableBytes { try Kernels.best.quantizeBlocks(.q6_K, x, into: $0) }
            }
        }
        var out = [UInt8](repeating: 0, count: 10)
        #expect(throws: KernelError.self) {
            try [Float](repeating: 0, count: 33).withUnsafeBufferPointer { x in
                try out.withUnsafeMutableBytes { try Kernels.best.quantizeBlocks(.q8_0, x, into: $0) }
            }
        }
        #expect(throws: KernelError.self) {
            try [Float](repeating: 0, count: 32).withUnsafeBufferPointer { x in
                try out.withUnsafeMutableBytes { try Kernels.best.quantizeBlocks(.q8_0, x, into: $0) }
            }
        }
    }
}

@Suite("mse search kernel")
struct CandidateErrorTests {
    /// Every variant returns the same bits as the scalar reference (same lane and reduction order),
    /// for any length (tails included), with and without an early stop; and the reference agrees
    /// with a plain double-precision sum to float accuracy.
    @Test func variantsMatchTheReference() {
        var rng = SplitMix64(seed: 31)
        for trial in 0..<300 {
            let n = Int(rng.next() % 300)
            let x = (0..<n).map { _ in Float(Int(rng.next() % 20_001) - 10_000) / 1000 }
            let bits = Int(rng.next() % 7) + 2
            let symmetric = rng.next() % 2 == 0
            let qmin: Float = symmetric ? -Float(1 << (bits - 1)) : 0
            let qmax: Float = symmetric ? Float((1 << (bits - 1)) - 1) : Float((1 << bits) - 1)
            let scale = Float(rng.next() % 1000 + 1) / 1000
            let zero: Float = symmetric ? 0 : Float(rng.next() % UInt64(qmax + 1))
            let bound = trial % 3 == 0 ? Double(rng.next() % 500) : .infinity
            let reference = x.withUnsafeBufferPointer {
                Kernels.scalar.candidateError(
                    $0, inverse: 1 / scale, scale: scale, zero: zero, qmin: qmin, qmax: qmax, bound: bound)
            }
            for kernels in fastVariants {
                let fast = x.withUnsafeBufferPointer {
                    kernels.candidateError($0, inverse: 1 / scale, scale: scale, zero: zero, qmin: qmin, qmax: qmax, bound: bound)
                }
                #expect(fast.bitPattern == reference.bitPattern, "\(kernels.isa) trial \(trial)")
            }
            if bound == .infinity {
                var exact = 0.0
                for v in x {
                    let q = Swift.min(Swift.max((v / scale).rounded(.toNearestOrEven) + zero, qmin), qmax)
                    let e = Double(v) - Double((q - zero) * scale)
                    exact += e * e
                }
                #expect(abs(reference - exact) <= 1e-4 * Swift.max(exact, 1), "trial \(trial)")
            }
        }
    }
}
