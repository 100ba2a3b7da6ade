import Foundation
import Int8Kernels
import JSON
import ModelFormats

/// A validated quantization recipe: the user-facing contract (docs/RECIPES.md).
public struct Recipe: Sendable {
    public enum OutputFormat: String, Sendable, CaseIterable {
        case safetensors, gguf
        /// safetensors laid out for vLLM's compressed-tensors loader (linear int4/int8 weights).
        case compressedTensors = "compressed-tensors"

        /// Written as a safetensors file (every format but GGUF).
        public var isSafetensors: Bool { self != .gguf }
    }

    /// What to do with a targeted tensor that holds NaN or Inf.
    public enum NonFinitePolicy: String, Sendable, CaseIterable {
        /// Fail, naming the tensor (the default).
        case error
        /// Copy that tensor unchanged and note it in the report.
        case keep
    }

    public struct Override: Sendable {
        public let match: Glob
        public let weights: WeightSpec
    }

    public let preset: String?
    public let weights: WeightSpec
    /// Nil: the default (floating tensors of rank >= 2).
    public let targets: [Glob]?
    public let ignore: [Glob]
    public internal(set) var overrides: [Override]
    public let output: OutputFormat
    public let nonFinite: NonFinitePolicy
    /// The resolved recipe as JSON, for reports and artifact metadata.
    public let json: JSONValue
    /// Automatic mixed precision: the pipeline picks one candidate per tensor (`MixedPrecision`).
    public var mixedPrecision: MixedPrecisionSpec? = nil
    /// Activation quantization (static scales from a dataset, or dynamic per token).
    public var activations: ActivationSpec? = nil
    /// The one calibration dataset the recipe names (GPTQ, AdaRound, static activations), if any.
    public var datasetID: String? = nil
    /// A checkpoint written as safetensors is split into shards of at most this many bytes
    /// (`output.max_shard_size`; 5 GB, as transformers' save_pretrained, when not given).
    public var maxShardBytes: Int? = nil
    /// What the job measures after quantizing, on a text dataset (`evaluation`).
    public var evaluation: EvaluationSpec? = nil
    /// Activation-aware scales searched and folded before quantizing (`awq`).
    public var awq: AWQSpec? = nil

    /// The weight spec for a tensor: the last matching override wins.
    public func weights(for name: String) -> WeightSpec {
        overrides.last { $0.match.matches(name) }?.weights ?? weights
    }

    /// Whether a tensor is quantized: targeted (by `targets`, or by default floating with rank >= 2)
    /// and not ignored.
    public func quantizes(name: String, isFloatingPoint: Bool, rank: Int) -> Bool {
        guard isFloatingPoint else { return false }
        if ignore.contains(where: { $0.matches(name) }) { return false }
        if let targets { return targets.contains { $0.matches(name) } }
        return rank >= 2
    }

    // MARK: - Parsing

    public static let fields = [
        "preset", "weights", "targets", "ignore", "overrides", "output", "nonfinite", "mixed_precision", "activations",
        "evaluation", "awq",
    ]

    /// Parses recipe JSON text (duplicate keys rejected).
    public static func parse(_ text: String) throws -> Recipe {
        let value: JSONValue
        do {
            value = try StrictJSON.parse(text)
        } catch let error as JSONError {
            throw RecipeError("", "recipe is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        return try parse(value)
    }

    public static func preset(_ name: String) throws -> Recipe {
        try parse(.object(JSONObject([("preset", .string(name))])))
    }

    public static func parse(_ value: JSONValue) throws -> Recipe {
        guard let object = value.objectValue else { throw RecipeError("", "a recipe must be a JSON object") }
        for key in object.keys where !fields.contains(key) {
            throw RecipeError(key, "is not a recipe field (allowed: \(fields.joined(separator: ", ")))")
        }
        var base = JSONObject()
        var presetName: String?
        if let presetValue = object["preset"] {
            guard let name = presetValue.stringValue, let preset = Preset.named(name) else {
                throw RecipeError(
                    "preset",
                    "unknown preset \(presetValue.serialized) (known: \(Preset.all.map(\.name).joined(separator: ", ")))")
            }
            presetName = preset.name
            base = preset.recipe
        }
        let baseWeights = try merge(base["weights"]?.objectValue ?? JSONObject(), object["weights"], path: "weights")
        let weights = try WeightSpec.parse(baseWeights, path: "weights")

        let outputObject = try merge(base["output"]?.objectValue ?? JSONObject(), object["output"], path: "output")
        for key in outputObject.keys where key != "format" && key != "max_shard_size" {
            throw RecipeError("output.\(key)", "is not an output field (allowed: format, max_shard_size)")
        }
        let output = try WeightSpec.enumValue(
            outputObject["format"] ?? .string("safetensors"), OutputFormat.self, "output.format")
        let maxShardBytes = try outputObject["max_shard_size"].map { try parseByteSize($0, "output.max_shard_size") }

        let targets = try object["targets"].map { try globs($0, "targets") }
        let ignore = try object["ignore"].map { try globs($0, "ignore") } ?? []
        var overrides: [Override] = []
        var overrideJSON: [JSONValue] = []
        if let list = object["overrides"] {
            guard let items = list.arrayValue else {
                throw RecipeError("overrides", "must be a list of {\"match\", \"weights\"}")
            }
            for (index, item) in items.enumerated() {
                let path = "overrides[\(index)]"
                guard let entry = item.objectValue else { throw RecipeError(path, "must be an object {\"match\", \"weights\"}") }
                for key in entry.keys where key != "match" && key != "weights" {
                    throw RecipeError("\(path).\(key)", "is not an override field (allowed: match, weights)")
                }
                guard let pattern = entry["match"]?.stringValue, !pattern.isEmpty else {
                    throw RecipeError("\(path).match", "must be a non-empty glob over tensor names, e.g. \"*.lm_head.weight\"")
                }
                guard entry["weights"]?.objectValue != nil else {
                    throw RecipeError("\(path).weights", "must be an object of weight fields")
                }
                if entry["weights"]?.objectValue?["mix"] != nil {
                    throw RecipeError(
                        "\(path).weights.mix",
                        "a mix chooses types for the whole model: set it in \"weights\"; an override gives its tensors one \"type\""
                    )
                }
                // An override pins its tensors' type: the model-wide mix does not apply to them.
                var overrideBase = baseWeights
                if let name = overrideBase["mix"]?.stringValue, overrideBase["type"] == nil,
                    let mix = KQuantMix(rawValue: name.uppercased())
                {
                    overrideBase["type"] = .string(mix.base.name)
                }
                overrideBase["mix"] = nil
                let merged = try merge(overrideBase, entry["weights"], path: "\(path).weights")
                let spec = try WeightSpec.parse(merged, path: "\(path).weights")
                try checkRepresentable(spec, output: output, path: "\(path).weights")
                overrides.append(Override(match: Glob(pattern), weights: spec))
                overrideJSON.append(.object(JSONObject([("match", .string(pattern)), ("weights", spec.json)])))
            }
        }
        try checkRepresentable(weights, output: output, path: "weights")
        let nonFinite = try WeightSpec.enumValue(object["nonfinite"] ?? .string("error"), NonFinitePolicy.self, "nonfinite")

        var resolved = JSONObject()
        if let presetName { resolved["preset"] = .string(presetName) }
        resolved["weights"] = weights.json
        if let targets { resolved["targets"] = .array(targets.map { .string($0.pattern) }) }
        if !ignore.isEmpty { resolved["ignore"] = .array(ignore.map { .string($0.pattern) }) }
        if !overrideJSON.isEmpty { resolved["overrides"] = .array(overrideJSON) }
        resolved["output"] = .object(
            JSONObject([("format", .string(output.rawValue))] + (maxShardBytes.map { [("max_shard_size", .integer($0))] } ?? [])))
        if nonFinite != .error { resolved["nonfinite"] = .string(nonFinite.rawValue) }
        let mixed = try (object["mixed_precision"] ?? base["mixed_precision"]).map { try MixedPrecisionSpec.parse($0) }
        if let mixed {
            guard output == .safetensors else { throw RecipeError("output.format", "mixed precision writes plain safetensors") }
            resolved["mixed_precision"] = mixed.json
        }
        let activations = try (object["activations"] ?? base["activations"]).map { try ActivationSpec.parse($0) }
        if let activations {
            guard activations.mode == .dynamic || output.isSafetensors else {
                throw RecipeError(
                    "activations",
                    "static activation scales are stored in safetensors (`<layer>.input_scale`); GGUF has no place for them")
            }
            resolved["activations"] = activations.json
        }
        let evaluation = try (object["evaluation"] ?? base["evaluation"]).map(EvaluationSpec.parse)
        if let evaluation { resolved["evaluation"] = evaluation.json }
        let awq = try (object["awq"] ?? base["awq"]).map(AWQSpec.parse)
        let namedWeights = [("weights", weights)] + overrides.enumerated().map { ("overrides[\($0)].weights", $1.weights) }
        if let awq {
            try checkAWQCombination(weights: namedWeights, activations: activations, mixedPrecision: mixed != nil)
            resolved["awq"] = awq.json
        }
        let datasetID = try singleDataset(
            weights: namedWeights, activations: activations, mixedPrecision: mixed?.datasetID, awq: awq?.datasetID)
        var recipe = Recipe(
            preset: presetName, weights: weights, targets: targets, ignore: ignore, overrides: overrides, output: output,
            nonFinite: nonFinite, json: .object(resolved), mixedPrecision: mixed, activations: activations, datasetID: datasetID)
        recipe.maxShardBytes = maxShardBytes
        recipe.evaluation = evaluation
        recipe.awq = awq
        return recipe
    }

    /// A size in bytes: an integer, or a string such as "5GB", "500MB", "2GiB" (save_pretrained's form).
    static func parseByteSize(_ value: JSONValue, _ field: String) throws -> Int {
        let units: [(String, Int)] = [
            ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000),
            ("B", 1),
        ]
        if let bytes = value.intValue, bytes > 0 { return bytes }
        if let text = value.stringValue?.uppercased().replacingOccurrences(of: " ", with: "") {
            for (unit, scale) in units where text.hasSuffix(unit) {
                if let number = Double(text.dropLast(unit.count)), number > 0, number * Double(scale) >= 1,
                    number * Double(scale) < 1e18
                {
                    return Int(number * Double(scale))
                }
            }
        }
        throw RecipeError(
            field, "must be a positive number of bytes or a size such as \"5GB\" or \"500MB\", got \(value.serialized)")
    }

    /// AWQ rescales layer inputs, so nothing else may read the unscaled inputs: GPTQ, AdaRound,
    /// importance weights, static activation scales and mixed precision's output error.
    static func checkAWQCombination(
        weights: [(path: String, spec: WeightSpec)], activations: ActivationSpec?, mixedPrecision: Bool
    ) throws {
        if let other = weights.first(where: { $0.spec.calibrationDatasetID != nil }) {
            throw RecipeError(
                "\(other.path).dataset_id",
                "awq cannot be combined with a calibrated weight method (GPTQ, AdaRound, importance weights): they read the layer inputs AWQ rescales; use one of them"
            )
        }
        if activations?.datasetID != nil {
            throw RecipeError(
                "activations",
                "awq cannot be combined with static activation scales: they are measured on the inputs AWQ rescales")
        }
        if mixedPrecision { throw RecipeError("mixed_precision", "awq cannot be combined with mixed precision") }
    }

    /// A job reads one calibration dataset: every dataset_id of the recipe must be the same.
    static func singleDataset(
        weights: [(path: String, spec: WeightSpec)], activations: ActivationSpec?, mixedPrecision: String?, awq: String? = nil
    ) throws -> String? {
        var named: [(path: String, id: String)] = weights.compactMap { entry in
            entry.spec.calibrationDatasetID.map { (entry.path, $0) }
        }
        if let id = awq { named.append(("awq", id)) }
        if let id = activations?.datasetID { named.append(("activations", id)) }
        if let id = mixedPrecision { named.append(("mixed_precision", id)) }
        guard let first = named.first else { return nil }
        if let other = named.first(where: { $0.id != first.id }) {
            throw RecipeError(
                "\(other.path).dataset_id",
                "is '\(other.id)' but \(first.path) names '\(first.id)'; a job uses one calibration dataset")
        }
        return first.id
    }

    /// Field-wise merge of `over` onto `base`. Changing the method starts from `over` alone, so a
    /// preset's linear fields never leak into a gguf spec (and the reverse); changing the
    /// granularity drops the old granularity's `axis` / `group_size`.
    static func merge(_ base: JSONObject, _ over: JSONValue?, path: String) throws -> JSONObject {
        guard let over else { return base }
        guard let object = over.objectValue else { throw RecipeError(path, "must be an object") }
        if let method = object["method"], method != (base["method"] ?? .string("linear")) { return object }
        var result = base
        // A new granularity drops the old one's parameters (a preset's group_size under "channel").
        if let granularity = object["granularity"], granularity != base["granularity"] {
            result["axis"] = nil
            result["group_size"] = nil
        }
        for (key, value) in object.entries { result[key] = value }
        return result
    }

    static func globs(_ value: JSONValue, _ field: String) throws -> [Glob] {
        guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue?.isEmpty == false }) else {
            throw RecipeError(field, "must be a list of non-empty globs over tensor names, e.g. [\"*.weight\"]")
        }
        return items.compactMap(\.stringValue).map { Glob($0) }
    }

    /// A recipe the output format cannot store is an error, never a silent fallback.
    static func checkRepresentable(_ spec: WeightSpec, output: OutputFormat, path: String) throws {
        switch (spec.method, output) {
        case (.binary, .compressedTensors), (.ternary, .compressedTensors), (.float, .compressedTensors),
            (.mx, .compressedTensors),
            (.kmeans, .compressedTensors):
            throw RecipeError(
                "\(path).method",
                "compressed-tensors output holds linear int4 or int8 weights; use method \"linear\" or output.format \"safetensors\""
            )
        case (.binary, .gguf), (.ternary, .gguf), (.float, .gguf), (.mx, .gguf), (.kmeans, .gguf):
            throw RecipeError("\(path).method", "GGUF has no \(spec.method.rawValue) type; use output.format \"safetensors\"")
        case (.linear, .gguf), (.gptq, .gguf):
            throw RecipeError(
                "\(path).method",
                "GGUF cannot store linear codes with separate scales; use method \"gguf\" with a type such as Q8_0, or output.format \"safetensors\""
            )
        case (.gguf, .safetensors) where spec.ggufType?.isBlockQuantized == true,
            (.gguf, .compressedTensors) where spec.ggufType?.isBlockQuantized == true:
            throw RecipeError(
                "\(path).type",
                "\(spec.ggufType!.name) is a GGUF block format; set output.format to \"gguf\", or use method \"linear\" for safetensors"
            )
        default:
            break
        }
    }
}

extension Recipe {
    /// Whether any spec takes importance weights from the dataset (a GGUF spec naming one).
    public var takesImportance: Bool {
        ([weights] + overrides.map(\.weights)).contains { $0.gguf?.datasetID != nil }
    }

    /// The recipe with `datasetID` on every GGUF spec whose types take importance weights (a mix, or a
    /// block type other than Q8_0 and MXFP4): how `quantctl quantize --imatrix FILE` applies an
    /// importance matrix to the whole model, as `llama-quantize --imatrix` does. Specs that already
    /// name a dataset keep it.
    public func weightingImportance(datasetID id: String) -> Recipe {
        let weights = weights.weightingImportance(id)
        let overrides = overrides.map { Override(match: $0.match, weights: $0.weights.weightingImportance(id)) }
        var resolved = json.objectValue ?? JSONObject()
        resolved["weights"] = weights.json
        if !overrides.isEmpty {
            resolved["overrides"] = .array(
                overrides.map { .object(JSONObject([("match", .string($0.match.pattern)), ("weights", $0.weights.json)])) })
        }
        var recipe = Recipe(
            preset: preset, weights: weights, targets: targets, ignore: ignore, overrides: overrides, output: output,
            nonFinite: nonFinite,
            json: .object(resolved), mixedPrecision: mixedPrecision, activations: activations, datasetID: datasetID ?? id)
        recipe.maxShardBytes = maxShardBytes
        recipe.evaluation = evaluation
        recipe.awq = awq
        return recipe
    }
}
