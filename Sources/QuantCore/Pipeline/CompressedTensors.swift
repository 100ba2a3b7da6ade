import JSON
import ModelFormats

/// The `quantization_config` of a compressed-tensors artifact, for the model's `config.json`
/// (vLLM reads it there): one config group per distinct weight scheme, with the quantized Linear
/// modules as targets, and the unquantized 2-D weights' modules in `ignore`.
public enum CompressedTensors {
    static func config(_ plans: [TensorPlan], activations: ActivationSpec? = nil) -> JSONValue {
        var groups: [(weights: JSONObject, targets: [String])] = []
        var ignore: [String] = []
        for plan in plans {
            let name = plan.source.name
            let module = name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name
            guard case .compressedLinear(let scheme, _) = plan.action else {
                if plan.source.shape.count == 2, name.hasSuffix(".weight") { ignore.append(module) }
                continue
            }
            var weights = JSONObject([
                ("num_bits", .integer(scheme.bits)), ("type", .string("int")), ("symmetric", .bool(true)),
            ])
            if case .group(let size) = scheme.granularity {
                weights["strategy"] = .string("group")
                weights["group_size"] = .integer(size)
            } else {
                weights["strategy"] = .string("channel")
                weights["group_size"] = .null
            }
            weights["dynamic"] = .bool(false)
            weights["observer"] = .string("minmax")
            if let index = groups.firstIndex(where: { $0.weights == weights }) {
                groups[index].targets.append(module)
            } else {
                groups.append((weights, [module]))
            }
        }
        let configGroups = JSONObject(
            groups.enumerated().map { index, group in
                (
                    "group_\(index)",
                    JSONValue.object(
                        JSONObject([
                            ("targets", .array(group.targets.map { .string($0) })), ("weights", .object(group.weights)),
                            ("input_activations", inputActivations(activations)), ("output_activations", .null),
                        ]))
                )
            })
        return .object(
            JSONObject([
                ("quant_method", .string("compressed-tensors")), ("format", .string("pack-quantized")),
                ("quantization_status", .string("compressed")), ("config_groups", .object(configGroups)),
                ("ignore", .array(ignore.map { .string($0) })),
            ]))
    }

    /// int8 inputs: per tensor from `<layer>.input_scale` (static), or per token at run time (dynamic).
    static func inputActivations(_ spec: ActivationSpec?) -> JSONValue {
        guard let spec else { return .null }
        let dynamic = spec.mode == .dynamic
        return .object(
            JSONObject([
                ("num_bits", .integer(spec.bits)), ("type", .string("int")), ("symmetric", .bool(spec.symmetric)),
                ("strategy", .string(dynamic ? "token" : "tensor")), ("group_size", .null), ("dynamic", .bool(dynamic)),
                ("observer", dynamic ? .null : .string(spec.calibrator.name)),
            ]))
    }

    /// `{"quantization_config": ...}`, the fragment to merge into the model's config.json, read
    /// back from a compressed-tensors artifact's metadata; nil for other files.
    public static func configFragment(ofArtifact path: String) throws -> String? {
        let file = try SafetensorsFile(path: path)
        guard let text = file.metadata.first(where: { $0.key == "quantization_config" })?.value else { return nil }
        return JSONValue.object(JSONObject([("quantization_config", try StrictJSON.parse(text))])).serialized
    }
}
