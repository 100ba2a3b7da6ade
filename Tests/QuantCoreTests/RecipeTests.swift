import ModelFormats
import Testing

@testable import QuantCore

@Suite("Recipes")
struct RecipeTests {
    @Test(arguments: Preset.all.map(\.name))
    func everyPresetParses(name: String) throws {
        let recipe = try Recipe.preset(name)
        #expect(recipe.preset == name)
        #expect(try Recipe.parse(recipe.json).json == recipe.json)  // the resolved form round-trips
    }

    @Test func presetValues() throws {
        let int8 = try Recipe.preset("int8").weights
        #expect(int8.scheme == (try LinearScheme(bits: 8, symmetric: true, granularity: .channel(axis: 0))))
        let asym = try Recipe.preset("int4-g128-asym").weights.scheme
        #expect(asym?.bits == 4 && asym?.symmetric == false && asym?.granularity == .group(size: 128))
        let q4 = try Recipe.preset("q4_0")
        #expect(q4.weights.ggufType == .q4_0 && q4.output == .gguf)
        #expect(try Recipe.preset("fp16").output == .safetensors)
    }

    @Test func fieldsOverrideThePreset() throws {
        let recipe = try Recipe.parse(#"{"preset": "int8", "weights": {"bits": 6, "scale_dtype": "f16"}}"#)
        #expect(recipe.weights.scheme?.bits == 6 && recipe.weights.scaleDType == .f16)
        #expect(recipe.weights.scheme?.granularity == .channel(axis: 0))
        // Changing the method drops the preset's linear fields.
        let gguf = try Recipe.parse(
            #"{"preset": "int8", "weights": {"method": "gguf", "type": "q8_0"}, "output": {"format": "gguf"}}"#)
        #expect(gguf.weights.ggufType == .q8_0)
    }

    @Test func kQuantsTakeADatasetForImportanceWeights() throws {
        let recipe = try Recipe.parse(#"{"preset": "q5_k", "weights": {"dataset_id": "ds_1"}}"#)
        #expect(recipe.weights.ggufType == .q5_K && recipe.weights.calibrationDatasetID == "ds_1")
        #expect(recipe.datasetID == "ds_1")
        #expect(recipe.weights.json.objectValue?["dataset_id"] == .string("ds_1"))
        #expect(try Recipe.parse(recipe.json).weights.calibrationDatasetID == "ds_1")
    }

    @Test func overridesLastMatchWins() throws {
        let recipe = try Recipe.parse(
            #"{"preset": "int4-g128", "overrides": [{"match": "*.weight", "weights": {"bits": 8}}, {"match": "lm_head.*", "weights": {"bits": 6, "granularity": "channel"}}]}"#
        )
        #expect(recipe.weights(for: "layers.0.weight").scheme?.bits == 8)
        #expect(recipe.weights(for: "lm_head.weight").scheme?.bits == 6)
        #expect(recipe.weights(for: "lm_head.weight").scheme?.granularity == .channel(axis: 0))
        #expect(recipe.weights(for: "norm").scheme?.bits == 4)
    }

    @Test func targetsAndIgnore() throws {
        let recipe = try Recipe.parse(#"{"preset": "int8", "targets": ["*.weight"], "ignore": ["*norm*"]}"#)
        #expect(recipe.quantizes(name: "a.weight", isFloatingPoint: true, rank: 1))
        #expect(!recipe.quantizes(name: "a.norm.weight", isFloatingPoint: true, rank: 2))
        #expect(!recipe.quantizes(name: "a.bias", isFloatingPoint: true, rank: 2))
        #expect(!recipe.quantizes(name: "a.weight", isFloatingPoint: false, rank: 2))
        let defaults = try Recipe.preset("int8")
        #expect(defaults.quantizes(name: "x", isFloatingPoint: true, rank: 2))
        #expect(!defaults.quantizes(name: "x", isFloatingPoint: true, rank: 1))
    }

    @Test(arguments: [
        (#"{"preset": "int9"}"#, "preset"),
        (#"{"weights": {"bits": 9}}"#, "weights.bits"),
        (#"{"weights": {"bits": "8"}}"#, "weights.bits"),
        (#"{"weights": {"granularity": "row"}}"#, "weights.granularity"),
        (#"{"weights": {"granularity": "tensor", "group_size": 64}}"#, "weights.group_size"),
        (#"{"weights": {"method": "gguf"}}"#, "weights.type"),
        (#"{"weights": {"method": "gguf", "type": "Q4_0"}}"#, "weights.type"),
        (#"{"preset": "q4_k_m", "weights": {"type": "Q8_0"}}"#, "weights.type"),
        (#"{"weights": {"method": "gguf", "mix": "Q4_K_X"}}"#, "weights.mix"),
        (#"{"preset": "q4_k_m", "weights": {"fallback": "Q8_0"}}"#, "weights.fallback"),
        (#"{"preset": "q4_k", "overrides": [{"match": "x", "weights": {"mix": "Q4_K_M"}}]}"#, "overrides[0].weights.mix"),
        (#"{"preset": "int8", "output": {"format": "gguf"}}"#, "weights.method"),
        (#"{"weights": {"clipping": {"method": "kl", "bins": 10}}}"#, "weights.clipping.bins"),
        (#"{"weights": {"clipping": {"method": "entropy"}}}"#, "weights.clipping.method"),
        (#"{"weights": {"granularity": "tensor", "clipping": {"method": "mse"}}}"#, "weights.clipping"),
        (#"{"weights": {"clipping": {"method": "percentile", "percentile": 40}}}"#, "weights.clipping.percentile"),
        (#"{"weights": {"colour": 1}}"#, "weights.colour"),
        (#"{"weight": {}}"#, "weight"),
        (#"{"output": {"format": "onnx"}}"#, "output.format"),
        (#"{"overrides": [{"match": "", "weights": {}}]}"#, "overrides[0].match"),
        (#"{"overrides": [{"match": "x", "weights": {"bits": 1}}]}"#, "overrides[0].weights.bits"),
        (#"{"targets": "x"}"#, "targets"),
        (#"{"weights": {"bits": 4, "bits": 8}}"#, ""),
        (#"{"preset": "q8_0", "weights": {"dataset_id": "ds"}}"#, "weights.dataset_id"),
        (#"{"preset": "q4_k", "weights": {"dataset_id": ""}}"#, "weights.dataset_id"),
        (#"{"preset": "q4_k", "weights": {"dataset_id": 3}}"#, "weights.dataset_id"),
    ])
    func errorsNameTheField(text: String, field: String) {
        do {
            _ = try Recipe.parse(text)
            Issue.record("accepted \(text)")
        } catch let error as RecipeError {
            #expect(error.field == field, "\(error)")
            #expect(!error.message.isEmpty)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func globs() {
        #expect(Glob("*.weight").matches("model.layers.0.weight"))
        #expect(!Glob("*.weight").matches("model.layers.0.bias"))
        #expect(Glob("layers.?.mlp*").matches("layers.3.mlp.up"))
        #expect(!Glob("layers.?.mlp*").matches("layers.13.mlp.up"))
        #expect(Glob("*").matches(""))
        #expect(Glob("a*b*c").matches("aXXbYYc") && !Glob("a*b*c").matches("aXXbYY"))
    }
}
