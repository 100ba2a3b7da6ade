import Foundation
import ModelArchitectures
import ModelFormats

extension Pipeline {
    /// A model's per-tensor plan for a recipe, with the recipe as resolved for that model (a K-quant
    /// mix turned into per-tensor types) and, for a Hugging Face checkpoint written as GGUF, the
    /// conversion to llama.cpp's names, layouts and metadata.
    public struct ModelPlan: Sendable {
        public let recipe: Recipe
        public let tensors: [TensorPlan]
        public let conversion: GGUFConversion?
    }

    /// The one planning path: the CLI, the server's submit-time check and the job runner all turn
    /// (model, recipe) into tensor plans here, so they cannot disagree on whether a recipe applies.
    /// `notes` names tensors (by their input names) to keep unchanged and why (NaN or Inf found with
    /// "nonfinite": "keep"). `name` is a converted GGUF's `general.name` (default: the folder's name).
    public static func plan(_ source: SourceModel, recipe given: Recipe, keep notes: [String: String] = [:], name: String? = nil)
        throws -> ModelPlan
    {
        var recipe = given
        var tensors = source.tensors
        var conversion: GGUFConversion?
        if recipe.output == .gguf, let checkpoint = source.checkpoint {
            do {
                conversion = try GGUFConversion.make(
                    config: checkpoint.config, name: name ?? (checkpoint.directory as NSString).lastPathComponent,
                    tensors: tensors.map { ($0.name, $0.shape) }, sideFile: checkpoint.json, sideBytes: checkpoint.bytes)
            } catch let error as ConversionError {
                throw PipelineError.conversion(error.message)
            }
            tensors = source.tensors(convertedBy: conversion!)
        }
        if let mix = recipe.weights.gguf?.mix {
            recipe = resolveMix(recipe, mix, tensors: tensors, shape: conversion.map { ModelShape($0) } ?? ModelShape(source))
        }
        let plans = try tensors.map {
            try TensorPlan.make($0, recipe: recipe, output: recipe.output, keep: notes[$0.sourceName ?? $0.name])
        }
        if recipe.awq != nil { _ = try awqGroups(source, plans: plans) }
        return ModelPlan(recipe: recipe, tensors: plans, conversion: conversion)
    }
}

/// The counts llama.cpp's mix rules use: layers, and query heads per key/value head.
struct ModelShape {
    var layerCount: Int?
    var queryGroups: Int?

    init(_ conversion: GGUFConversion) {
        layerCount = conversion.layerCount
        queryGroups = conversion.headCount / Swift.max(conversion.headCountKV, 1)
    }

    /// From a GGUF input's metadata, or a checkpoint's config.json.
    init(_ source: SourceModel) {
        if let config = source.checkpoint?.config.map(HFConfig.init) {
            layerCount = config.int("num_hidden_layers")
            queryGroups = config.int("num_attention_heads").map { heads in
                heads / Swift.max(config.int("num_key_value_heads") ?? heads, 1)
            }
            return
        }
        layerCount = Pipeline.metadataInteger(source.model, "block_count")
        queryGroups = Pipeline.metadataInteger(source.model, "attention.head_count").flatMap { heads in
            Pipeline.metadataInteger(source.model, "attention.head_count_kv").map { heads / Swift.max($0, 1) }
        }
    }
}
