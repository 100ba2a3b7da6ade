import Foundation
import ModelFormats

/// Raw conversions for comparing our encoder/decoder with ml_dtypes on large samples.
enum Codes {
    static func format(_ name: String) throws -> MiniFloatFormat? {
        if name == "e8m0" { return nil }
        guard let format = MiniFloatFormat.all.first(where: { $0.name == name }) else {
            throw ToolError("unknown format \(name); known: \(MiniFloatFormat.all.map(\.name)) and e8m0")
        }
        return format
    }

    static func encode(format name: String, input: String, output: String, saturate: Bool) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        let values = data.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
        var out = Data()
        if let format = try format(name) {
            let wide = format.bitWidth > 8
            for value in values {
                // fp16 and bf16 go through the fast paths callers use; the references are tested
                // against them exhaustively in the Swift tests.
                let code: UInt32
                if !saturate && name == "fp16" {
                    code = UInt32(HalfFloat.fromFloat(value))
                } else if !saturate && name == "bf16" {
                    code = UInt32(BFloat16.fromFloat(value))
                } else {
                    code = format.encode(value, overflow: saturate ? .saturate : .formatDefault)
                }
                if wide {
                    withUnsafeBytes(of: UInt16(code).littleEndian) { out.append(contentsOf: $0) }
                } else {
                    out.append(UInt8(code))
                }
            }
        } else {
            for value in values { out.append(E8M0.encode(value)) }
        }
        try out.write(to: URL(fileURLWithPath: output))
    }

    static func decode(format name: String, input: String, output: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        var out = Data()
        if let format = try format(name) {
            let wide = format.bitWidth > 8
            let count = wide ? data.count / 2 : data.count
            for i in 0..<count {
                let code = wide ? UInt32(data[i * 2]) | UInt32(data[i * 2 + 1]) << 8 : UInt32(data[i])
                let value = name == "fp16" ? HalfFloat.toFloat(UInt16(code)) : format.decode(code)
                withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            }
        } else {
            for byte in data { withUnsafeBytes(of: E8M0.decode(byte).bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        try out.write(to: URL(fileURLWithPath: output))
    }
}
