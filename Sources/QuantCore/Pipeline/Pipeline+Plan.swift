import ModelFormats

extension Pipeline {
    /// A model's per-tensor plan for a recipe, with the recipe as resolved for that model (a K-quant
    /// mix turned into per-tensor types).
    public struct ModelPlan: Sendable {
        public let recipe: Recipe
        public let tensors: [TensorPlan]
    }

    /// The one planning path: the CLI, the server's submit-time check and the job runner all turn
    /// (model, recipe) into tensor plans here, so they cannot disagree on whether a recipe applies.
    /// `notes` names tensors to keep unchanged and why (NaN or Inf found with "nonfinite": "keep").
    public static func plan(_ source: SourceModel, recipe given: Recipe, keep notes: [String: String] = [:]) throws -> ModelPlan {
        var recipe = given
        if let mix = recipe.weights.ggufMix { recipe = resolveMix(recipe, mix, source: source) }
        let tensors = try source.tensors.map { try TensorPlan.make($0, recipe: recipe, output: recipe.output, keep: notes[$0.name]) }
        return ModelPlan(recipe: recipe, tensors: tensors)
    }
}
