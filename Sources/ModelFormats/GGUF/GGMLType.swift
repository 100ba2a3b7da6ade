/// ggml tensor types: the one traits table (id, name, elements per block, bytes per block, code
/// bits, whether its quantizer takes importance weights) instead of switch statements scattered
/// around, as ggml's own type_traits. Each type's quantizer and dequantizer are looked up by it in
/// the kernel table of the running CPU (`Kernels.quantizeBlocks`). Sizes are checked against the
/// PyPI `gguf` package's GGML_QUANT_SIZES in the interop tests. The types keep ggml's spelling
/// (q4_K, iq4_NL), which is how users and llama.cpp name them.
// swift-format-ignore: AlwaysUseLowerCamelCase
public struct GGMLType: Hashable, Sendable, CustomStringConvertible {
    public let id: UInt32
    public let name: String
    public let blockSize: Int
    public let typeSize: Int
    /// Bits of each element's code in a block type (scales not counted); the element width otherwise
    /// (whole bits per weight for block types we do not quantize).
    public let codeBits: Int
    /// Whether ggml's quantizer for it searches with importance weights (llama.cpp's imatrix):
    /// Q4_0 ... Q5_1, IQ4_NL and the K-quants; not Q8_0 or MXFP4, whose quantizers ignore them.
    public let takesImportance: Bool

    init(id: UInt32, name: String, blockSize: Int, typeSize: Int, codeBits: Int? = nil, takesImportance: Bool = false) {
        self.id = id
        self.name = name
        self.blockSize = blockSize
        self.typeSize = typeSize
        self.codeBits = codeBits ?? typeSize * 8 / blockSize
        self.takesImportance = takesImportance
    }

    public var description: String { name }
    public var isQuantized: Bool { blockSize > 1 }
    /// The K-quants we quantize: super-blocks of 256 with quantized sub-block scales.
    public var isKQuant: Bool { [Self.q2_K, .q3_K, .q4_K, .q5_K, .q6_K].contains(self) }
    /// Bits per weight including block scales.
    public var bitsPerWeight: Double { Double(typeSize * 8) / Double(blockSize) }

    /// Bytes for `elements` elements of a block type, which the caller has checked are whole blocks.
    public func blockBytes(elements: Int) -> Int { elements / blockSize * typeSize }

    /// Bytes for `elements` elements, which must be a whole number of blocks.
    public func byteCount(elements: Int) throws -> Int {
        guard elements % blockSize == 0 else {
            throw FormatError(.blockSizeMismatch, "\(elements) elements is not a multiple of \(name)'s block size \(blockSize)")
        }
        return try Checked.multiply(elements / blockSize, typeSize, "\(name) tensor size")
    }

    public static let f32 = GGMLType(id: 0, name: "F32", blockSize: 1, typeSize: 4)
    public static let f16 = GGMLType(id: 1, name: "F16", blockSize: 1, typeSize: 2)
    public static let q4_0 = GGMLType(id: 2, name: "Q4_0", blockSize: 32, typeSize: 18, codeBits: 4, takesImportance: true)
    public static let q4_1 = GGMLType(id: 3, name: "Q4_1", blockSize: 32, typeSize: 20, codeBits: 4, takesImportance: true)
    public static let q5_0 = GGMLType(id: 6, name: "Q5_0", blockSize: 32, typeSize: 22, codeBits: 5, takesImportance: true)
    public static let q5_1 = GGMLType(id: 7, name: "Q5_1", blockSize: 32, typeSize: 24, codeBits: 5, takesImportance: true)
    public static let q8_0 = GGMLType(id: 8, name: "Q8_0", blockSize: 32, typeSize: 34, codeBits: 8)
    public static let q8_1 = GGMLType(id: 9, name: "Q8_1", blockSize: 32, typeSize: 36, codeBits: 8)
    public static let q2_K = GGMLType(id: 10, name: "Q2_K", blockSize: 256, typeSize: 84, codeBits: 2, takesImportance: true)
    public static let q3_K = GGMLType(id: 11, name: "Q3_K", blockSize: 256, typeSize: 110, codeBits: 3, takesImportance: true)
    public static let q4_K = GGMLType(id: 12, name: "Q4_K", blockSize: 256, typeSize: 144, codeBits: 4, takesImportance: true)
    public static let q5_K = GGMLType(id: 13, name: "Q5_K", blockSize: 256, typeSize: 176, codeBits: 5, takesImportance: true)
    public static let q6_K = GGMLType(id: 14, name: "Q6_K", blockSize: 256, typeSize: 210, codeBits: 6, takesImportance: true)
    public static let q8_K = GGMLType(id: 15, name: "Q8_K", blockSize: 256, typeSize: 292, codeBits: 8)
    public static let iq2_XXS = GGMLType(id: 16, name: "IQ2_XXS", blockSize: 256, typeSize: 66)
    public static let iq2_XS = GGMLType(id: 17, name: "IQ2_XS", blockSize: 256, typeSize: 74)
    public static let iq3_XXS = GGMLType(id: 18, name: "IQ3_XXS", blockSize: 256, typeSize: 98)
    public static let iq1_S = GGMLType(id: 19, name: "IQ1_S", blockSize: 256, typeSize: 50)
    public static let iq4_NL = GGMLType(id: 20, name: "IQ4_NL", blockSize: 32, typeSize: 18, codeBits: 4, takesImportance: true)
    public static let iq3_S = GGMLType(id: 21, name: "IQ3_S", blockSize: 256, typeSize: 110)
    public static let iq2_S = GGMLType(id: 22, name: "IQ2_S", blockSize: 256, typeSize: 82)
    public static let iq4_XS = GGMLType(id: 23, name: "IQ4_XS", blockSize: 256, typeSize: 136)
    public static let i8 = GGMLType(id: 24, name: "I8", blockSize: 1, typeSize: 1)
    public static let i16 = GGMLType(id: 25, name: "I16", blockSize: 1, typeSize: 2)
    public static let i32 = GGMLType(id: 26, name: "I32", blockSize: 1, typeSize: 4)
    public static let i64 = GGMLType(id: 27, name: "I64", blockSize: 1, typeSize: 8)
    public static let f64 = GGMLType(id: 28, name: "F64", blockSize: 1, typeSize: 8)
    public static let iq1_M = GGMLType(id: 29, name: "IQ1_M", blockSize: 256, typeSize: 56)
    public static let bf16 = GGMLType(id: 30, name: "BF16", blockSize: 1, typeSize: 2)
    public static let tq1_0 = GGMLType(id: 34, name: "TQ1_0", blockSize: 256, typeSize: 54)
    public static let tq2_0 = GGMLType(id: 35, name: "TQ2_0", blockSize: 256, typeSize: 66)
    public static let mxfp4 = GGMLType(id: 39, name: "MXFP4", blockSize: 32, typeSize: 17, codeBits: 4)

    public static let all: [GGMLType] = [
        f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, q2_K, q3_K, q4_K, q5_K, q6_K, q8_K, iq2_XXS, iq2_XS, iq3_XXS,
        iq1_S, iq4_NL, iq3_S, iq2_S, iq4_XS, i8, i16, i32, i64, f64, iq1_M, bf16, tq1_0, tq2_0, mxfp4,
    ]

    /// The block types this service quantizes and dequantizes (a kernel for each in every ISA table).
    public static let blockQuantized: [GGMLType] = [q8_0, q4_0, q4_1, q5_0, q5_1, mxfp4, iq4_NL, q2_K, q3_K, q4_K, q5_K, q6_K]
    /// The types a recipe's `gguf` method may name: the block types above, and F16, BF16, F32.
    public static let recipeTypes: [GGMLType] = blockQuantized + [f16, bf16, f32]
    public var isBlockQuantized: Bool { Self.blockQuantized.contains(self) }

    /// Ids ggml once used and has removed (Q4_2, Q4_3, the Q4_0_4_4 family, IQ4_NL_4_4 family).
    public static let removedIDs: Set<UInt32> = [4, 5, 31, 32, 33, 36, 37, 38]

    private static let byID: [UInt32: GGMLType] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
    private static let byName: [String: GGMLType] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    public static func withID(_ id: UInt32) -> GGMLType? { byID[id] }
    public static func named(_ name: String) -> GGMLType? { byName[name.uppercased()] }
}
