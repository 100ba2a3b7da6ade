import JSON
import ModelFormats

/// Typed reads of a Hugging Face `config.json`, with errors that name the missing field.
public struct HFConfig: Sendable {
    public let object: JSONObject

    public init(_ object: JSONObject) { self.object = object }

    /// `architectures[0]`, e.g. "LlamaForCausalLM".
    public var architecture: String? { object["architectures"]?.arrayValue?.first?.stringValue }

    /// The first of `keys` present as an integer.
    public func int(_ keys: String...) -> Int? {
        for key in keys { if let value = object[key]?.intValue { return value } }
        return nil
    }

    /// The first of `keys` present as a number.
    public func double(_ keys: String...) -> Double? {
        for key in keys { if let value = object[key]?.doubleValue { return value } }
        return nil
    }

    public func bool(_ key: String) -> Bool? { object[key]?.boolValue }

    /// A positive integer the architecture cannot do without.
    public func required(_ key: String) throws -> Int {
        guard let value = object[key]?.intValue, value > 0 else {
            throw ConversionError(
                .invalidConfig,
                "config.json needs \"\(key)\" as a positive integer, found \(object[key]?.serialized ?? "nothing")")
        }
        return value
    }

    /// RoPE settings: `rope_scaling` (or the newer `rope_parameters`) with `rope_theta` beside it.
    public var ropeParameters: JSONObject {
        var parameters = object["rope_parameters"]?.objectValue ?? object["rope_scaling"]?.objectValue ?? JSONObject()
        if parameters["rope_type"] == nil, let type = parameters["type"] { parameters["rope_type"] = type }
        if parameters["rope_theta"] == nil, let theta = object["rope_theta"] { parameters["rope_theta"] = theta }
        return parameters
    }
}
