import Foundation
import Int8Kernels
import ModelFormats
import QuantCore

enum InteropCommands {
    static let usage = """
        usage: interop-tool COMMAND ...
          dump FILE                      JSON description of a safetensors/GGUF file, data as hex
          roundtrip IN OUT               read IN with our reader, write OUT with our writer
          sample-safetensors OUT         write a sample covering every dtype
          sample-gguf OUT                write a sample covering every metadata type
          encode FORMAT IN OUT [--saturate]   fp32 (raw LE) -> codes (u8, or u16 for fp16/bf16)
          decode FORMAT IN OUT           codes -> fp32
          ggml-types                     our ggml type table as JSON
          quantize-blocks TYPE IN OUT    fp32 (raw LE) -> ggml blocks with Int8Kernels.best
          quantize-blocks-weighted TYPE IN WEIGHTS OUT
                                         rows of len(WEIGHTS) values with per-column importance weights
          dequantize-blocks TYPE IN OUT  ggml blocks -> fp32
          isa                            the kernel variant in use (QK_FORCE_ISA lowers it)
          kl-range BINS QBINS IN         entropy (KL) calibration range of fp32 values: "lower upper"
          tokenize TOKENIZER_JSON TEXTS  ids of each string of the JSON array TEXTS:
                                         {"plain": [[...]], "special": [[...]]} (without, with special tokens)
          logits MODEL TOKENS OUT        our fp32 forward pass of a decoder (checkpoint or GGUF) on the JSON
                                         array TOKENS: raw little-endian f32, tokens x vocabulary
          embedding MODEL TOKENS         our fp32 BERT forward pass, pooled: a JSON array
        """

    static func run(_ args: [String]) throws {
        guard let command = args.first else { throw ToolError(usage) }
        let rest = Array(args.dropFirst())
        switch (command, rest.count) {
        case ("dump", 1): print(try Dump.describe(path: rest[0]).serialized)
        case ("roundtrip", 2): try Roundtrip.copy(from: rest[0], to: rest[1])
        case ("sample-safetensors", 1): try Samples.writeSafetensors(to: rest[0])
        case ("sample-gguf", 1): try Samples.writeGGUF(to: rest[0])
        case ("encode", 3), ("encode", 4): try Codes.encode(format: rest[0], input: rest[1], output: rest[2], saturate: rest.count == 4 && rest[3] == "--saturate")
        case ("decode", 3): try Codes.decode(format: rest[0], input: rest[1], output: rest[2])
        case ("ggml-types", 0): print(Dump.ggmlTypes().serialized)
        case ("quantize-blocks", 3): try Blocks.quantize(type: rest[0], input: rest[1], output: rest[2])
        case ("quantize-blocks-weighted", 4): try Blocks.quantizeWeighted(type: rest[0], input: rest[1], weights: rest[2], output: rest[3])
        case ("dequantize-blocks", 3): try Blocks.dequantize(type: rest[0], input: rest[1], output: rest[2])
        case ("isa", 0): print(Kernels.best.isa)
        case ("logits", 3):
            guard let data = FileManager.default.contents(atPath: rest[1]), let tokens = try StrictJSON.parse(String(decoding: data, as: UTF8.self)).arrayValue?.compactMap(\.intValue) else {
                throw ToolError("\(rest[1]) must hold a JSON array of token ids")
            }
            let logits = try DecoderForward.open(rest[0]).logits(tokens)
            try logits.values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: rest[2])) }
        case ("embedding", 2):
            guard let data = FileManager.default.contents(atPath: rest[1]), let tokens = try StrictJSON.parse(String(decoding: data, as: UTF8.self)).arrayValue?.compactMap(\.intValue) else {
                throw ToolError("\(rest[1]) must hold a JSON array of token ids")
            }
            let values = try EncoderForward(weights: try Dequantizer.Tensors(path: rest[0])).embedding(tokens)
            print(JSONValue.array(values.map { .number(String($0)) }).serialized)
        case ("tokenize", 2): print(try Tokenize.ids(tokenizer: rest[0], texts: rest[1]).serialized)
        case ("kl-range", 3):
            guard let bins = Int(rest[0]), let quantized = Int(rest[1]), let data = FileManager.default.contents(atPath: rest[2]) else {
                throw ToolError(usage)
            }
            let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let range = values.withUnsafeBufferPointer {
                EntropyCalibration.range(EntropyCalibration.Histogram($0, bins: bins), quantizedBins: quantized)
            }
            print("\(range.lower) \(range.upper)")
        default: throw ToolError(usage)
        }
    }
}

struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension UnsafeRawBufferPointer {
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
