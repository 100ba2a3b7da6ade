import Int8Kernels
import ModelFormats

extension Pipeline {
    /// A recipe with a K-quant mix, resolved: every tensor it quantizes gets the mix's type as an
    /// exact-name override, placed before the user's overrides so that theirs still win. The
    /// mix's roles and layer counts take every targeted tensor into account, as llama.cpp does.
    static func resolveMix(_ recipe: Recipe, _ mix: KQuantMix, tensors: [SourceTensor], shape: ModelShape) -> Recipe {
        let targeted = tensors.filter {
            !$0.keepF32 && recipe.quantizes(name: $0.name, isFloatingPoint: $0.floatDType != nil, rank: $0.shape.count)
        }
        let types = mix.types(
            for: targeted.map { ($0.name, $0.shape) }, layerCount: shape.layerCount, queryGroups: shape.queryGroups)
        var mixOverrides: [Recipe.Override] = []
        for tensor in targeted where !recipe.overrides.contains(where: { $0.match.matches(tensor.name) }) {
            guard let type = types[tensor.name] else { continue }
            guard var gguf = recipe.weights.gguf else { continue }
            gguf.type = type
            gguf.mix = nil
            if !type.takesImportance { gguf.datasetID = nil }  // Q8_0 and F16 take no importance
            mixOverrides.append(Recipe.Override(match: Glob(exactly: tensor.name), weights: .gguf(gguf)))
        }
        var resolved = recipe
        resolved.overrides = mixOverrides + recipe.overrides
        return resolved
    }

    /// `<general.architecture>.<key>` of a GGUF input when it is one integer: the layer count and
    /// head counts llama.cpp's rules use.
    static func metadataInteger(_ model: ModelFile, _ key: String) -> Int? {
        guard case .gguf(let file) = model,
            case .string(let architecture)? = file.metadata.first(where: { $0.key == "general.architecture" })?.value,
            let value = file.metadata.first(where: { $0.key == "\(architecture).\(key)" })?.value
        else { return nil }
        switch value {
        case .uint32(let count): return Int(count)
        case .int32(let count): return Int(count)
        case .uint64(let count): return Int(exactly: count)
        case .int64(let count): return Int(count)
        default: return nil
        }
    }

    /// llama.cpp's `general.file_type` for the recipe: the mix's, or the "mostly" type of its base.
    static func fileType(_ weights: WeightSpec) -> UInt32? {
        if let mix = weights.gguf?.mix { return mix.fileType }
        guard let type = weights.ggufType else { return nil }
        let numbers: [GGMLType: UInt32] = [
            .f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9, .q2_K: 10, .q3_K: 11, .q4_K: 14, .q5_K: 16,
            .q6_K: 18, .iq4_NL: 25, .bf16: 32, .mxfp4: 38,  // llama.h's llama_ftype
        ]
        return numbers[type]
    }
}
