import ModelFormats

/// Deterministic sample files. The Python tests rebuild the same values with NumPy and compare.
enum Samples {
    /// Float tensors hold v[k] = Float(k - n/2) * 0.37 (computed in fp32) converted to the dtype;
    /// integer tensors hold byte k = (k * 37 + 11) mod 256.
    static func writeSafetensors(to path: String) throws {
        var specs: [TensorSpec] = []
        var payloads: [[UInt8]] = []
        for (index, dtype) in DType.allCases.enumerated() {
            let shape = [3, 8 + index % 3 * 8]
            let count = shape.reduce(1, *)
            specs.append(TensorSpec(name: "t.\(dtype.rawValue.lowercased())", dtype: dtype, shape: shape))
            if dtype.isFloatingPoint {
                payloads.append(try FloatCodec.fromFloat32(dtype, floatPattern(count)))
            } else {
                payloads.append((0..<(try dtype.byteCount(elements: count))).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) })
            }
        }
        specs.append(TensorSpec(name: "scalar", dtype: .f32, shape: []))
        payloads.append(try FloatCodec.fromFloat32(.f32, [42.5]))
        specs.append(TensorSpec(name: "empty", dtype: .f16, shape: [0, 4]))
        payloads.append([])
        let writer = try SafetensorsWriter(
            path: path, tensors: specs, metadata: [("format", "pt"), ("note", "quantservice sample \u{00e9}\"\\")])
        for payload in payloads { try writer.write(payload) }
        try writer.finish()
    }

    static func floatPattern(_ count: Int) -> [Float] {
        (0..<count).map { Float($0 - count / 2) * Float(0.37) }
    }

    static func writeGGUF(to path: String) throws {
        let metadata: [GGUFKeyValue] = [
            GGUFKeyValue("general.architecture", .string("llama")),
            GGUFKeyValue("general.alignment", .uint32(64)),
            GGUFKeyValue("u8", .uint8(200)), GGUFKeyValue("i8", .int8(-100)),
            GGUFKeyValue("u16", .uint16(60000)), GGUFKeyValue("i16", .int16(-30000)),
            GGUFKeyValue("u32", .uint32(4_000_000_000)), GGUFKeyValue("i32", .int32(-2_000_000_000)),
            GGUFKeyValue("f32", .float32(3.25)), GGUFKeyValue("bool", .bool(true)),
            GGUFKeyValue("str", .string("h\u{00e9}llo \u{1F600}")),
            GGUFKeyValue("u64", .uint64(18_000_000_000_000_000_000)), GGUFKeyValue("i64", .int64(-9_000_000_000_000_000_000)),
            GGUFKeyValue("f64", .float64(-0.125)),
            GGUFKeyValue("arr.u8", .array(.uint8([1, 2, 255]))), GGUFKeyValue("arr.i8", .array(.int8([-1, 0, 1]))),
            GGUFKeyValue("arr.u16", .array(.uint16([1, 65535]))), GGUFKeyValue("arr.i16", .array(.int16([-32768, 7]))),
            GGUFKeyValue("arr.u32", .array(.uint32([1, 2, 3]))), GGUFKeyValue("arr.i32", .array(.int32([-5, 5]))),
            GGUFKeyValue("arr.f32", .array(.floats([0.5, -1.5]))), GGUFKeyValue("arr.bool", .array(.bool([true, false]))),
            GGUFKeyValue("arr.str", .array(.string(["a", "", "\u{00fc}ber"]))),
            GGUFKeyValue("arr.u64", .array(.uint64([1, 1 << 40]))), GGUFKeyValue("arr.i64", .array(.int64([-(1 << 40)]))),
            GGUFKeyValue("arr.f64", .array(.doubles([1e-300, 2.5]))), GGUFKeyValue("arr.empty", .array(.int32([]))),
        ]
        let tensors = [
            GGUFTensorSpec(name: "f32", shape: [2, 3], type: .f32),
            GGUFTensorSpec(name: "f16", shape: [5], type: .f16),
            GGUFTensorSpec(name: "bf16", shape: [4, 2], type: .bf16),
            GGUFTensorSpec(name: "i32", shape: [3], type: .i32),
            GGUFTensorSpec(name: "q8_0", shape: [2, 64], type: .q8_0),
            GGUFTensorSpec(name: "four.d", shape: [2, 1, 3, 32], type: .q4_0),
        ]
        let writer = try GGUFWriter(path: path, metadata: metadata, tensors: tensors)
        try writer.write(try FloatCodec.fromFloat32(.f32, floatPattern(6)))
        try writer.write(try FloatCodec.fromFloat32(.f16, floatPattern(5)))
        try writer.write(try FloatCodec.fromFloat32(.bf16, floatPattern(8)))
        try writer.write((0..<12).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) })
        try writer.write((0..<(4 * 34)).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) })
        try writer.write((0..<(6 * 18)).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) })
        try writer.finish()
    }
}
