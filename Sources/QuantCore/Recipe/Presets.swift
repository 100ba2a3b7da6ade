import JSON
import ModelFormats

/// Named starting points for recipes. A recipe's own fields override its preset's.
public struct Preset: Sendable {
    public let name: String
    public let summary: String
    /// The preset as recipe JSON (`weights` and `output`).
    public let recipe: JSONObject

    public static let all: [Preset] = [
        linear(
            "int8", "int8, symmetric, one scale per output channel (axis 0)", bits: 8, symmetric: true, granularity: "channel"),
        Preset(
            name: "int8-pow2", summary: "int8 fixed point: symmetric, per output channel, every scale a power of two (shifts)",
            recipe: recipe(
                JSONObject([
                    ("method", .string("linear")), ("bits", .integer(8)), ("symmetric", .bool(true)),
                    ("granularity", .string("channel")),
                    ("scale_constraint", .string("power_of_two")),
                ]), output: "safetensors")),
        linear("int8-tensor", "int8, symmetric, one scale per tensor", bits: 8, symmetric: true, granularity: "tensor"),
        linear("uint8-asym", "uint8 with a zero point, one scale per tensor", bits: 8, symmetric: false, granularity: "tensor"),
        linear(
            "int4-g128", "int4, symmetric, one scale per 128 weights along rows", bits: 4, symmetric: true, granularity: "group"),
        linear(
            "int4-g128-asym", "uint4 with zero points, groups of 128 along rows", bits: 4, symmetric: false, granularity: "group"),
        linear("int4-channel", "int4, symmetric, one scale per output channel", bits: 4, symmetric: true, granularity: "channel"),
        Preset(
            name: "int4-g16-2level",
            summary: "int4, groups of 16, 8-bit integer group scales under an F32 scale per row (VS-Quant)",
            recipe: recipe(
                JSONObject([
                    ("method", .string("linear")), ("bits", .integer(4)), ("symmetric", .bool(true)),
                    ("granularity", .string("group")),
                    ("group_size", .integer(16)), ("scale_bits", .integer(8)),
                ]), output: "safetensors")),
        mse("int4-g128-mse", "int4, groups of 128, each range shrunk to minimise its squared error", bits: 4, group: 128),
        mse("int3-g64-mse", "int3, groups of 64, each range shrunk to minimise its squared error", bits: 3, group: 64),
        Preset(
            name: "binary", summary: "1 bit: sign times a per-channel scale, mean |W| (XNOR-Net)",
            recipe: recipe(JSONObject([("method", .string("binary"))]), output: "safetensors")),
        Preset(
            name: "ternary", summary: "2 bits: -1/0/+1 with threshold 0.7 mean |W| and a per-channel scale (TWN)",
            recipe: recipe(JSONObject([("method", .string("ternary"))]), output: "safetensors")),
        gguf("q8_0", "GGUF Q8_0 blocks (8.5 bits per weight)", "Q8_0"),
        gguf("q4_0", "GGUF Q4_0 blocks (4.5 bits per weight)", "Q4_0"),
        gguf("q4_1", "GGUF Q4_1 blocks with a minimum (5 bits per weight)", "Q4_1"),
        gguf("q5_0", "GGUF Q5_0 blocks (5.5 bits per weight)", "Q5_0"),
        gguf("q5_1", "GGUF Q5_1 blocks with a minimum (6 bits per weight)", "Q5_1"),
        gguf(
            "iq4_nl",
            "GGUF IQ4_NL: blocks of 32, an fp16 scale and 4-bit indices into 16 non-uniform levels (4.5 bits per weight)",
            "IQ4_NL"),
        gguf(
            "q2_k", "GGUF Q2_K super-blocks of 256: 16 sub-blocks with 4-bit scales and mins, 2-bit codes (2.63 bits per weight)",
            "Q2_K"),
        gguf(
            "q3_k", "GGUF Q3_K super-blocks of 256: 16 sub-blocks with 6-bit signed scales, 3-bit codes (3.44 bits per weight)",
            "Q3_K"),
        gguf(
            "q4_k", "GGUF Q4_K super-blocks of 256: 8 sub-blocks with 6-bit scales and mins, 4-bit codes (4.5 bits per weight)",
            "Q4_K"),
        gguf(
            "q5_k", "GGUF Q5_K super-blocks of 256: 8 sub-blocks with 6-bit scales and mins, 5-bit codes (5.5 bits per weight)",
            "Q5_K"),
        gguf("q6_k", "GGUF Q6_K super-blocks of 256: 16 int8 sub-scales, 6-bit codes (6.56 bits per weight)", "Q6_K"),
        mix(.q3_K_S, "llama.cpp Q3_K_S: Q3_K, the output head Q6_K"),
        mix(.q3_K_M, "llama.cpp Q3_K_M: Q3_K; attention output Q4_K, value projections and FFN down Q4_K-Q5_K, head Q6_K"),
        mix(.q3_K_L, "llama.cpp Q3_K_L: Q3_K; value projections, attention output and FFN down Q5_K, head Q6_K"),
        mix(.q4_K_S, "llama.cpp Q4_K_S: Q4_K; the first value projections and FFN down layers Q5_K, head Q6_K"),
        mix(.q4_K_M, "llama.cpp Q4_K_M: Q4_K; value projections and FFN down in half the layers Q6_K, head Q6_K"),
        mix(.q5_K_S, "llama.cpp Q5_K_S: Q5_K, the output head Q6_K"),
        mix(.q5_K_M, "llama.cpp Q5_K_M: Q5_K; value projections and FFN down in half the layers Q6_K, head Q6_K"),
        Preset(
            name: "auto",
            summary:
                "mixed precision: per tensor the best of int8, int4-g16-2level, int4-g128-mse, int3-g64-mse within 4.5 bits per weight",
            recipe: JSONObject([
                ("weights", .object(JSONObject([("method", .string("linear")), ("bits", .integer(8))]))),
                (
                    "mixed_precision",
                    .object(
                        JSONObject([
                            (
                                "candidates",
                                .array(["int8", "int4-g16-2level", "int4-g128-mse", "int3-g64-mse"].map { .string($0) })
                            ),
                            ("max_bits_per_weight", .number("4.5")),
                        ]))
                ),
                ("output", .object(JSONObject([("format", .string("safetensors"))]))),
            ])),
        Preset(
            name: "fp8-e4m3", summary: "fp8 E4M3 (max 448) with an F32 scale per output channel",
            recipe: recipe(JSONObject([("method", .string("float")), ("format", .string("fp8-e4m3"))]), output: "safetensors")),
        Preset(
            name: "fp8-e5m2", summary: "fp8 E5M2 (max 57344, 2 mantissa bits) with an F32 scale per output channel",
            recipe: recipe(JSONObject([("method", .string("float")), ("format", .string("fp8-e5m2"))]), output: "safetensors")),
        Preset(
            name: "kmeans-4", summary: "16 shared values per tensor (1-D k-means, Deep Compression), 4-bit indices",
            recipe: recipe(JSONObject([("method", .string("kmeans")), ("bits", .integer(4))]), output: "safetensors")),
        Preset(
            name: "kmeans-3", summary: "8 shared values per tensor (1-D k-means), 3-bit indices",
            recipe: recipe(JSONObject([("method", .string("kmeans")), ("bits", .integer(3))]), output: "safetensors")),
        mx("mxfp8", "OCP MXFP8: E4M3 elements, an E8M0 scale per 32 (8.25 bits per weight)"),
        mx("mxfp6", "OCP MXFP6: E2M3 elements, an E8M0 scale per 32 (6.25 bits per weight)", format: "mxfp6-e2m3"),
        mx("mxfp4", "OCP MXFP4: E2M1 elements, an E8M0 scale per 32 (4.25 bits per weight)"),
        mx("mxint8", "OCP MXINT8: int8 x 2^-6 elements, an E8M0 scale per 32 (8.25 bits per weight)"),
        float("fp16", "IEEE half precision, safetensors F16", "F16"),
        float("bf16", "bfloat16, safetensors BF16", "BF16"),
    ]

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name.lowercased() } }

    static func linear(_ name: String, _ summary: String, bits: Int, symmetric: Bool, granularity: String) -> Preset {
        var weights = JSONObject([
            ("method", .string("linear")), ("bits", .integer(bits)), ("symmetric", .bool(symmetric)),
            ("granularity", .string(granularity)),
        ])
        if granularity == "group" { weights["group_size"] = .integer(128) }
        if granularity == "channel" { weights["axis"] = .integer(0) }
        return Preset(name: name, summary: summary, recipe: recipe(weights, output: "safetensors"))
    }

    static func mse(_ name: String, _ summary: String, bits: Int, group: Int) -> Preset {
        let weights = JSONObject([
            ("method", .string("linear")), ("bits", .integer(bits)), ("symmetric", .bool(true)),
            ("granularity", .string("group")),
            ("group_size", .integer(group)),
            ("clipping", .object(JSONObject([("method", .string("mse")), ("steps", .integer(20))]))),
        ])
        return Preset(name: name, summary: summary, recipe: recipe(weights, output: "safetensors"))
    }

    static func gguf(_ name: String, _ summary: String, _ type: String) -> Preset {
        Preset(
            name: name, summary: summary,
            recipe: recipe(JSONObject([("method", .string("gguf")), ("type", .string(type))]), output: "gguf"))
    }

    static func mix(_ mix: KQuantMix, _ summary: String) -> Preset {
        Preset(
            name: mix.rawValue.lowercased(), summary: summary,
            recipe: recipe(JSONObject([("method", .string("gguf")), ("mix", .string(mix.rawValue))]), output: "gguf"))
    }

    static func float(_ name: String, _ summary: String, _ type: String) -> Preset {
        Preset(
            name: name, summary: summary,
            recipe: recipe(JSONObject([("method", .string("gguf")), ("type", .string(type))]), output: "safetensors"))
    }

    static func mx(_ name: String, _ summary: String, format: String? = nil) -> Preset {
        Preset(
            name: name, summary: summary,
            recipe: recipe(JSONObject([("method", .string("mx")), ("format", .string(format ?? name))]), output: "safetensors"))
    }

    static func recipe(_ weights: JSONObject, output: String) -> JSONObject {
        JSONObject([("weights", .object(weights)), ("output", .object(JSONObject([("format", .string(output))])))])
    }
}
