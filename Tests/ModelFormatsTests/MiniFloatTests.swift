import QuantTesting
import Testing

@testable import ModelFormats

@Suite("Minifloat conversions")
struct MiniFloatTests {
    /// Every non-NaN code decodes to a value that encodes back to the same code.
    @Test(arguments: MiniFloatFormat.all)
    func everyCodeRoundTrips(format: MiniFloatFormat) {
        let codeCount = UInt32(1) << UInt32(format.bitWidth)
        var failures = 0
        for code in 0..<codeCount {
            let value = format.decode(code)
            if value.isNaN { continue }
            if format.encode(value) != code { failures += 1 }
            if value.isFinite && format.encode(value, overflow: .saturate) != code { failures += 1 }
        }
        #expect(failures == 0, "\(format): \(failures) codes did not round-trip")
    }

    @Test func documentedLimits() {
        #expect(MiniFloatFormat.fp16.maxFinite == 65504)
        #expect(MiniFloatFormat.fp8E4M3.maxFinite == 448)
        #expect(MiniFloatFormat.fp8E5M2.maxFinite == 57344)
        #expect(MiniFloatFormat.fp6E3M2.maxFinite == 28)
        #expect(MiniFloatFormat.fp6E2M3.maxFinite == 7.5)
        #expect(MiniFloatFormat.fp4E2M1.maxFinite == 6)
        #expect(MiniFloatFormat.fp8E4M3.decode(1) == Float(sign: .plus, exponent: -9, significand: 1))
        #expect(MiniFloatFormat.fp8E5M2.decode(1) == Float(sign: .plus, exponent: -16, significand: 1))
        let fp4 = (0..<8).map { MiniFloatFormat.fp4E2M1.decode(UInt32($0)) }
        #expect(fp4 == [0, 0.5, 1, 1.5, 2, 3, 4, 6])
    }

    @Test func roundsTiesToEven() {
        // 1 + 2^-11 is halfway between fp16 1.0 and 1 + 2^-10: ties go to the even mantissa (1.0).
        #expect(MiniFloatFormat.fp16.encode(1 + 0x1p-11) == 0x3C00)
        // 1 + 3·2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even).
        #expect(MiniFloatFormat.fp16.encode(1 + 3 * 0x1p-11) == 0x3C02)
        // e4m3: 1.0625 is halfway between 1.0 and 1.125 -> 1.0.
        #expect(MiniFloatFormat.fp8E4M3.encode(1.0625) == 0x38)
        #expect(MiniFloatFormat.fp4E2M1.encode(2.5) == 4)  // between 2 (code 4) and 3 (code 5) -> even
        #expect(MiniFloatFormat.fp4E2M1.encode(0.25) == 0)  // between 0 and 0.5 -> 0
    }

    @Test func overflowAndSpecials() {
        let e4m3 = MiniFloatFormat.fp8E4M3
        #expect(e4m3.encode(465) == 0x7F)  // past the midpoint 464 (448 + half ulp): NaN, as ml_dtypes
        #expect(e4m3.encode(464) == 0x7E)  // the tie itself goes to the even mantissa: 448
        #expect(e4m3.encode(1e6, overflow: .saturate) == 0x7E)
        #expect(e4m3.encode(-.infinity, overflow: .saturate) == 0xFE)
        #expect(e4m3.encode(.infinity) == 0x7F)
        #expect(e4m3.decode(0x7F).isNaN && e4m3.decode(0xFF).isNaN)
        let e5m2 = MiniFloatFormat.fp8E5M2
        #expect(e5m2.encode(1e6) == 0x7C)
        #expect(e5m2.decode(0x7C) == .infinity)
        #expect(e5m2.encode(.nan) == 0x7E)
        let fnuz = MiniFloatFormat.fp8E4M3FNUZ
        #expect(fnuz.encode(-0.0) == 0)
        #expect(fnuz.encode(.nan) == 0x80)
        #expect(fnuz.decode(0x80).isNaN)
        #expect(MiniFloatFormat.fp4E2M1.encode(100) == 7)
        #expect(MiniFloatFormat.fp4E2M1.encode(-.infinity) == 15)
    }

    /// The fast fp16 path agrees with the reference on every fp16 value and on fp32 inputs that
    /// cover every exponent, ties and their neighbours.
    @Test func fastHalfMatchesReference() {
        for code in 0...UInt32(0xFFFF) {
            let reference = MiniFloatFormat.fp16.decode(code)
            let fast = HalfFloat.toFloat(UInt16(code))
            #expect(reference.isNaN ? fast.isNaN : reference.bitPattern == fast.bitPattern)
        }
        var generator = SplitMix64(seed: 0xF16)
        var mismatches = 0
        for step in 0..<2_000_000 {
            let bits = step < 1_000_000 ? UInt32(step) &* 4295 : UInt32(truncatingIfNeeded: generator.next())
            let value = Float(bitPattern: bits)
            if UInt32(HalfFloat.fromFloat(value)) != MiniFloatFormat.fp16.encode(value) { mismatches += 1 }
            if UInt32(BFloat16.fromFloat(value)) != MiniFloatFormat.bf16.encode(value) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func e8m0() {
        #expect(E8M0.encode(1) == 127)
        #expect(E8M0.encode(1.5) == 128)
        #expect(E8M0.encode(1.4999) == 127)
        #expect(E8M0.encode(0) == 0xFF)
        #expect(E8M0.encode(-1) == 0xFF)
        #expect(E8M0.decode(0) == Float(sign: .plus, exponent: -127, significand: 1))
        #expect(E8M0.decode(254) == Float(sign: .plus, exponent: 127, significand: 1))
        #expect(E8M0.decode(255).isNaN)
        for code in UInt8(0)...254 { #expect(E8M0.encode(E8M0.decode(code)) == code) }
    }

    @Test func subBytePackingIsLeastSignificantFirst() throws {
        let bytes = try FloatCodec.fromFloat32(.f4, [0.5, 6, -1, 0])  // codes 1, 7, 10, 0
        #expect(bytes == [0x71, 0x0A])
        let back = try bytes.withUnsafeBytes { try FloatCodec.toFloat32(.f4, bytes: $0) }
        #expect(back == [0.5, 6, -1, 0])
        let six = try FloatCodec.fromFloat32(.f6E2M3, [1, 2, 3, 4])
        #expect(six.count == 3)
        #expect(try six.withUnsafeBytes { try FloatCodec.toFloat32(.f6E2M3, bytes: $0) } == [1, 2, 3, 4])
    }

    @Test func codecRangeIsChecked() {
        var out = [Float](repeating: 0, count: 4)
        expectFormatError(.dataOutOfBounds) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { bytes in
                try out.withUnsafeMutableBufferPointer { try FloatCodec.toFloat32(.f16, bytes: bytes, first: 1, into: $0) }
            }
        }
    }
}
