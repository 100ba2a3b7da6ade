import Foundation
import Int8Kernels
import ModelFormats

/// ggml block quantization through the kernels, for comparison with gguf-py's quants.
enum Blocks {
    static func format(_ name: String) throws -> GGMLType {
        guard let format = GGMLType.named(name), format.isBlockQuantized else {
            throw ToolError("unknown block type \(name); known: \(GGMLType.blockQuantized.map(\.name))")
        }
        return format
    }

    static func quantize(type: String, input: String, output: String) throws {
        let format = try format(type)
        let values = try floats(input)
        var out = [UInt8](repeating: 0, count: format.blockBytes(elements: values.count))
        try values.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBytes { try Kernels.best.quantizeBlocks(format, x, into: $0) }
        }
        try Data(out).write(to: URL(fileURLWithPath: output))
    }

    /// Rows of `weights`' length, each quantized with those per-column importance weights.
    static func quantizeWeighted(type: String, input: String, weights: String, output: String) throws {
        let format = try format(type)
        let values = try floats(input)
        let importance = try floats(weights)
        var out = [UInt8](repeating: 0, count: format.blockBytes(elements: values.count))
        try values.withUnsafeBufferPointer { x in
            try importance.withUnsafeBufferPointer { w in
                try out.withUnsafeMutableBytes { try Kernels.best.quantizeBlocks(format, x, importance: w, into: $0) }
            }
        }
        try Data(out).write(to: URL(fileURLWithPath: output))
    }

    static func floats(_ path: String) throws -> [Float] {
        try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func dequantize(type: String, input: String, output: String) throws {
        let format = try format(type)
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        var out = [Float](repeating: 0, count: data.count / format.typeSize * format.blockSize)
        try data.withUnsafeBytes { b in
            try out.withUnsafeMutableBufferPointer { try Kernels.best.dequantizeBlocks(format, b, into: $0) }
        }
        try out.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: output)) }
    }
}
