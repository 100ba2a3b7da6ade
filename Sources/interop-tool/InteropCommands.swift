import ArgumentParser
import Foundation
import Int8Kernels
import JSON
import ModelFormats
import QuantCore

/// `interop-tool COMMAND ...`: one subcommand per thing the Python tests check.
struct InteropTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interop-tool",
        abstract: "Exposes QuantService's readers, writers and numerics to the interop tests (not shipped).",
        subcommands: [
            DumpCommand.self, RoundtripCommand.self, SampleSafetensorsCommand.self, SampleGGUFCommand.self, EncodeCommand.self,
            DecodeCommand.self, GGMLTypesCommand.self, QuantizeBlocksCommand.self, QuantizeBlocksWeightedCommand.self,
            DequantizeBlocksCommand.self, ISACommand.self, KLRangeCommand.self, TokenizeCommand.self, LogitsCommand.self,
            EmbeddingCommand.self, WireExamplesCommand.self,
        ])
}

/// TYPE INPUT OUTPUT, the arguments of the conversions: a number format (encode, decode) or a ggml
/// type (blocks), then the files.
struct Conversion: ParsableArguments {
    @Argument(help: "A number format (fp8_e4m3, ...) or a ggml type (Q4_K, ...).") var type: String
    @Argument var input: String
    @Argument var output: String
}

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "JSON description of a safetensors/GGUF file, data as hex.")
    @Argument var file: String
    func run() throws { print(try Dump.describe(path: file).serialized) }
}

struct RoundtripCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roundtrip", abstract: "Read IN with our reader, write OUT with our writer.")
    @Argument var input: String
    @Argument var output: String
    func run() throws { try Roundtrip.copy(from: input, to: output) }
}

struct SampleSafetensorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-safetensors", abstract: "Write a sample covering every dtype.")
    @Argument var output: String
    func run() throws { try Samples.writeSafetensors(to: output) }
}

struct SampleGGUFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-gguf", abstract: "Write a sample covering every metadata type.")
    @Argument var output: String
    func run() throws { try Samples.writeGGUF(to: output) }
}

struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "fp32 (raw little-endian) to codes (u8, or u16 for fp16/bf16).")
    @OptionGroup var files: Conversion
    @Flag(help: "Saturate values beyond the format's range instead of overflowing.") var saturate = false
    func run() throws { try Codes.encode(format: files.type, input: files.input, output: files.output, saturate: saturate) }
}

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode", abstract: "Codes to fp32.")
    @OptionGroup var files: Conversion
    func run() throws { try Codes.decode(format: files.type, input: files.input, output: files.output) }
}

struct GGMLTypesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ggml-types", abstract: "Our ggml type table as JSON.")
    func run() throws { print(Dump.ggmlTypes().serialized) }
}

struct QuantizeBlocksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize-blocks", abstract: "fp32 (raw little-endian) to ggml blocks with Int8Kernels.best.")
    @OptionGroup var files: Conversion
    func run() throws { try Blocks.quantize(type: files.type, input: files.input, output: files.output) }
}

struct QuantizeBlocksWeightedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize-blocks-weighted",
        abstract: "Rows of len(WEIGHTS) values with per-column importance weights, to ggml blocks.")
    @Argument var type: String
    @Argument var input: String
    @Argument var weights: String
    @Argument var output: String
    func run() throws { try Blocks.quantizeWeighted(type: type, input: input, weights: weights, output: output) }
}

struct DequantizeBlocksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dequantize-blocks", abstract: "ggml blocks to fp32.")
    @OptionGroup var files: Conversion
    func run() throws { try Blocks.dequantize(type: files.type, input: files.input, output: files.output) }
}

struct ISACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "isa", abstract: "The kernel variant in use (QK_FORCE_ISA lowers it).")
    func run() throws { print(Kernels.best.isa) }
}

struct KLRangeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kl-range", abstract: "Entropy (KL) calibration range of fp32 values: \"lower upper\".")
    @Argument var bins: Int
    @Argument var quantizedBins: Int
    @Argument var input: String
    func run() throws {
        guard let data = FileManager.default.contents(atPath: input) else { throw ToolError("cannot read \(input)") }
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let range = values.withUnsafeBufferPointer {
            EntropyCalibration.range(EntropyCalibration.Histogram($0, bins: bins), quantizedBins: quantizedBins)
        }
        print("\(range.lower) \(range.upper)")
    }
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Ids of each string of the JSON array TEXTS: {\"plain\": [[...]], \"special\": [[...]]}.")
    @Argument var tokenizer: String
    @Argument var texts: String
    func run() throws { print(try Tokenize.ids(tokenizer: tokenizer, texts: texts).serialized) }
}

/// A JSON array of token ids from a file.
func tokenIDs(_ path: String) throws -> [Int] {
    guard let data = FileManager.default.contents(atPath: path),
        let tokens = try StrictJSON.parse(String(decoding: data, as: UTF8.self)).arrayValue?.compactMap(\.intValue)
    else {
        throw ToolError("\(path) must hold a JSON array of token ids")
    }
    return tokens
}

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Our fp32 forward pass of a decoder on the JSON array TOKENS: raw little-endian f32, tokens x vocabulary.")
    @Argument var model: String
    @Argument var tokens: String
    @Argument var output: String
    func run() throws {
        let logits = try DecoderForward.open(model).logits(try tokenIDs(tokens))
        try logits.values.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: output)) }
    }
}

struct EmbeddingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embedding", abstract: "Our fp32 BERT forward pass, pooled: a JSON array.")
    @Argument var model: String
    @Argument var tokens: String
    func run() throws {
        let values = try EncoderForward(weights: try Dequantizer.Tensors(path: model)).embedding(try tokenIDs(tokens))
        print(JSONValue.array(values.map { .number(String($0)) }).serialized)
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
