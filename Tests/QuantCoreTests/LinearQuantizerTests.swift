import Int8Kernels
import QuantTesting
import Testing

@testable import QuantCore

/// The scale index of each element, computed independently of the quantizer's layout code.
func scaleIndex(_ index: Int, shape: [Int], granularity: Granularity) -> Int {
    switch granularity {
    case .tensor: return 0
    case .channel(let axis):
        let inner = shape[(axis + 1)...].reduce(1, *)
        return (index / inner) % shape[axis]
    case .group(let size):
        let last = shape.last!
        let row = index / last
        let col = index % last
        return row * ((last + size - 1) / size) + col / size
    }
}

@Suite("Linear quantization")
struct LinearQuantizerTests {
    static func randomCase(_ rng: inout SplitMix64) throws -> (LinearScheme, [Int], [Float]) {
        let rank = Int(rng.next() % 4) + 1
        let shape = (0..<rank).map { _ in Int(rng.next() % 9) + 1 } + (rng.next() % 2 == 0 ? [Int(rng.next() % 300) + 1] : [])
        let granularity: Granularity =
            switch rng.next() % 3 {
            case 0: .tensor
            case 1: .channel(axis: Int(rng.next() % UInt64(shape.count)))
            default: .group(size: [32, 128, 7, 64, 1000].randomElement(using: &rng)!)
            }
        let scheme = try LinearScheme(bits: Int(rng.next() % 7) + 2, symmetric: rng.next() % 2 == 0, granularity: granularity)
        let count = shape.reduce(1, *)
        let offset: Float = rng.next() % 3 == 0 ? Float(rng.next() % 10) : 0  // all-positive ranges too
        let x = (0..<count).map { _ -> Float in
            switch rng.next() % 20 {
            case 0: return 0
            case 1: return Float.leastNonzeroMagnitude * Float(rng.next() % 100)
            default: return (Float(rng.next() % 2_000_001) / 1_000_000 - 1) * 4 + offset
            }
        }
        return (scheme, shape, x)
    }

    /// The defining property: every value reconstructs within half a step of its own scale (a few
    /// fp32 ulps of slack for x * (1/scale) not being exactly x / scale), codes stay in range, and
    /// zero points stay in range.
    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func errorBoundHolds(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<40 {
            let (scheme, shape, x) = try Self.randomCase(&rng)
            let quantizer = LinearQuantizer(scheme: scheme, threads: Int(rng.next() % 2) + 1)
            let q = try x.withUnsafeBufferPointer { try quantizer.quantize($0, shape: shape) }
            let r = try quantizer.dequantize(q)
            for i in x.indices {
                let s = scaleIndex(i, shape: shape, granularity: scheme.granularity)
                let scale = q.parameters.scales[s]
                let code = q.code(at: i)
                #expect(code >= scheme.qmin && code <= scheme.qmax)
                let bound = scale / 2 * (1 + 1e-5) + abs(x[i]) * 1e-6
                if abs(x[i] - r[i]) > bound {
                    Issue.record(
                        "seed \(seed): \(scheme.granularity) \(scheme.bits)b sym=\(scheme.symmetric) shape \(shape): x[\(i)]=\(x[i]) r=\(r[i]) scale=\(scale)"
                    )
                    return
                }
            }
            if let zeros = q.parameters.zeroPoints { #expect(zeros.allSatisfy { $0 >= scheme.qmin && $0 <= scheme.qmax }) }
        }
    }

    @Test func everyVariantAndThreadCountAgree() throws {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<20 {
            let (scheme, shape, x) = try Self.randomCase(&rng)
            let reference = try x.withUnsafeBufferPointer {
                try LinearQuantizer(scheme: scheme, kernels: .scalar).quantize($0, shape: shape)
            }
            for kernels in Kernels.available {
                for threads in [1, 2] {
                    let q = try x.withUnsafeBufferPointer {
                        try LinearQuantizer(scheme: scheme, kernels: kernels, threads: threads).quantize($0, shape: shape)
                    }
                    #expect(q == reference, "\(kernels.isa) threads \(threads) \(scheme.granularity) shape \(shape)")
                }
            }
        }
    }

    @Test(arguments: [true, false])
    func allZeroTensorIsExact(symmetric: Bool) throws {
        for granularity in [Granularity.tensor, .channel(axis: 0), .group(size: 32)] {
            let scheme = try LinearScheme(bits: 8, symmetric: symmetric, granularity: granularity)
            let x = [Float](repeating: 0, count: 4 * 40)
            let quantizer = LinearQuantizer(scheme: scheme)
            let q = try x.withUnsafeBufferPointer { try quantizer.quantize($0, shape: [4, 40]) }
            #expect(q.parameters.scales.allSatisfy { $0 == 1 })
            #expect(try quantizer.dequantize(q) == x)
        }
    }

    @Test func constantTensorReconstructsClosely() throws {
        for symmetric in [true, false] {
            let scheme = try LinearScheme(bits: 4, symmetric: symmetric, granularity: .channel(axis: 1))
            let x = [Float](repeating: -2.75, count: 3 * 5)
            let quantizer = LinearQuantizer(scheme: scheme)
            let q = try x.withUnsafeBufferPointer { try quantizer.quantize($0, shape: [3, 5]) }
            let r = try quantizer.dequantize(q)
            for i in x.indices { #expect(abs(r[i] - x[i]) <= 2.75 * 1e-6) }
        }
    }

    @Test func zeroPointStaysInRange() throws {
        let scheme = try LinearScheme(bits: 8, symmetric: false, granularity: .channel(axis: 0))
        // Row 0 all positive (zero point 0), row 1 all negative (zero point 255), row 2 mixed.
        let x: [Float] = [1, 2, 3, 4, -1, -2, -3, -4, -1, 0, 1, 3]
        let q = try x.withUnsafeBufferPointer { try LinearQuantizer(scheme: scheme).quantize($0, shape: [3, 4]) }
        #expect(q.parameters.zeroPoints == [0, 255, 64])
    }

    @Test func subnormalsAndShortTails() throws {
        let scheme = try LinearScheme(bits: 8, symmetric: true, granularity: .group(size: 32))
        var x = (0..<70).map { Float.leastNonzeroMagnitude * Float($0) }
        x[69] = 1e-39
        let quantizer = LinearQuantizer(scheme: scheme)
        let q = try x.withUnsafeBufferPointer { try quantizer.quantize($0, shape: [70]) }
        #expect(q.parameters.scales.count == 3)  // 32 + 32 + a tail of 6
        #expect(q.parameters.scales.allSatisfy { $0 >= Float.leastNormalMagnitude && $0.isFinite })
        let r = try quantizer.dequantize(q)
        for i in x.indices { #expect(abs(r[i] - x[i]) <= q.parameters.scales[i / 32] / 2 * 1.00001) }
    }

    @Test func nonFiniteInputIsAnError() throws {
        for granularity in [Granularity.tensor, .channel(axis: 0), .channel(axis: 1), .group(size: 2)] {
            let scheme = try LinearScheme(bits: 8, symmetric: true, granularity: granularity)
            let x: [Float] = [1, .nan, 3, 4]
            #expect(throws: QuantError.self) {
                try x.withUnsafeBufferPointer { try LinearQuantizer(scheme: scheme).quantize($0, shape: [2, 2]) }
            }
        }
    }

    @Test func invalidSchemesAndShapes() throws {
        #expect(throws: QuantError.self) { try LinearScheme(bits: 9, symmetric: true, granularity: .tensor) }
        #expect(throws: QuantError.self) { try LinearScheme(bits: 1, symmetric: true, granularity: .tensor) }
        #expect(throws: QuantError.self) { try LinearScheme(bits: 4, symmetric: true, granularity: .group(size: 0)) }
        let scheme = try LinearScheme(bits: 8, symmetric: true, granularity: .channel(axis: 2))
        #expect(throws: QuantError.self) {
            try [Float](repeating: 0, count: 4).withUnsafeBufferPointer {
                try LinearQuantizer(scheme: scheme).quantize($0, shape: [2, 2])
            }
        }
        let tensor = try LinearScheme(bits: 8, symmetric: true, granularity: .tensor)
        #expect(throws: QuantError.self) {
            try [Float](repeating: 0, count: 3).withUnsafeBufferPointer {
                try LinearQuantizer(scheme: tensor).quantize($0, shape: [2, 2])
            }
        }
    }

    @Test func metrics() {
        var m = ErrorMetrics()
        let x: [Float] = [1, 2, 3]
        let r: [Float] = [1, 2, 4]
        x.withUnsafeBufferPointer { a in r.withUnsafeBufferPointer { b in m.add(original: a, reconstructed: b) } }
        #expect(abs(m.mse - 1.0 / 3) < 1e-12)
        #expect(abs(m.sqnrDB - 10 * 1.146128035678238) < 1e-9)  // 10·log10(14)
        #expect(abs(m.cosine - 17 / (14.0 * 21).squareRoot()) < 1e-12)  // Σxr = 1 + 4 + 12
        #expect(m.maxAbsError == 1)
        var exact = ErrorMetrics()
        x.withUnsafeBufferPointer { a in exact.add(original: a, reconstructed: a) }
        #expect(exact.sqnrDB == .infinity && exact.cosine == 1)
    }
}

@Suite("Packed linear quantization")
struct PackedQuantizationTests {
    /// The streaming quantize-and-pack path gives exactly pack(quantize(x)) in the artifact layout.
    @Test(arguments: [7, 8, 9])
    func packedEqualsPackOfCodes(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<30 {
            let (scheme, shape, x) = try LinearQuantizerTests.randomCase(&rng)
            let quantizer = LinearQuantizer(scheme: scheme, threads: 2)
            let q = try x.withUnsafeBufferPointer { try quantizer.quantize($0, shape: shape) }
            let last = shape.last!
            let rows = x.count / last
            var expected = [UInt8](repeating: 0, count: quantizer.packedByteCount(shape: shape))
            try q.codes.withUnsafeBufferPointer { c in
                try expected.withUnsafeMutableBufferPointer {
                    try Kernels.scalar.pack(c, rows: rows, cols: last, bits: scheme.bits, into: $0)
                }
            }
            var packed = [UInt8](repeating: 0xEE, count: expected.count)
            let parameters = try x.withUnsafeBufferPointer { xb in
                try packed.withUnsafeMutableBufferPointer { try quantizer.quantizePacked(xb, shape: shape, into: $0) }
            }
            #expect(packed == expected, "seed \(seed) \(scheme.granularity) \(scheme.bits) bits shape \(shape)")
            #expect(parameters == q.parameters)
        }
    }
}

@Suite("Metrics measured while quantizing")
struct MeasuredQuantizationTests {
    @Test(arguments: [31, 32])
    func sameAsMeasuringAfterwards(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<25 {
            let (scheme, shape, x) = try LinearQuantizerTests.randomCase(&rng)
            let quantizer = LinearQuantizer(scheme: scheme, threads: 2)
            let q = try x.withUnsafeBufferPointer { try quantizer.quantize($0, shape: shape) }
            let r = try quantizer.dequantize(q)
            var expected = ErrorMetrics()
            x.withUnsafeBufferPointer { a in r.withUnsafeBufferPointer { expected.add(original: a, reconstructed: $0) } }
            for packed in [false, true] {
                var out = [UInt8](repeating: 0, count: max(x.count, quantizer.packedByteCount(shape: shape)))
                let (parameters, metrics) = try x.withUnsafeBufferPointer { xb in
                    try out.withUnsafeMutableBufferPointer {
                        try quantizer.quantizeMeasured(xb, shape: shape, packed: packed, into: $0)
                    }
                }
                #expect(parameters == q.parameters)
                if !packed || scheme.bits == 8 { #expect(Array(out.prefix(x.count)) == q.codes) }
                #expect(metrics.count == expected.count && metrics.maxAbsError == expected.maxAbsError)
                #expect(abs(metrics.sumSquaredError - expected.sumSquaredError) <= 1e-5 * expected.sumSquaredError + 1e-30)
                #expect(abs(metrics.sumSquares - expected.sumSquares) <= 1e-5 * expected.sumSquares)
            }
        }
    }
}
