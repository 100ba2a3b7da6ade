import JSON
import ModelFormats

/// Describes a file for the Python tests: names, dtypes, shapes, raw bytes as hex, metadata, and for
/// float dtypes the fp32 values our decoder produces (as hex of the fp32 bit patterns).
enum Dump {
    static func describe(path: String) throws -> JSONValue {
        switch try ModelFile.open(path: path) {
        case .safetensors(let file):
            let tensors = try file.tensors.map { info -> JSONValue in
                let bytes = file.bytes(of: info)
                var object = JSONObject([
                    ("name", .string(info.name)), ("dtype", .string(info.dtype.rawValue)),
                    ("shape", .array(info.shape.map { .integer($0) })), ("data_hex", .string(bytes.hex)),
                ])
                if info.dtype.isFloatingPoint {
                    let floats = try FloatCodec.toFloat32(info.dtype, bytes: bytes)
                    object["f32_hex"] = .string(floats.withUnsafeBytes { $0.hex })
                }
                return .object(object)
            }
            let metadata = JSONObject(file.metadata.map { ($0.key, .string($0.value)) })
            return .object(
                JSONObject([("format", .string("safetensors")), ("metadata", .object(metadata)), ("tensors", .array(tensors))]))
        case .gguf(let file):
            let tensors = file.tensors.map { info -> JSONValue in
                .object(
                    JSONObject([
                        ("name", .string(info.name)), ("type", .string(info.type.name)), ("type_id", .integer(info.type.id)),
                        ("dims", .array(info.dims.map { .integer($0) })), ("offset", .integer(info.offset)),
                        ("data_hex", .string(file.bytes(of: info).hex)),
                    ]))
            }
            let metadata = file.metadata.map { entry -> JSONValue in
                .object(
                    JSONObject([
                        ("key", .string(entry.key)), ("type", .integer(entry.value.type.rawValue)), ("value", value(entry.value)),
                    ]))
            }
            return .object(
                JSONObject([
                    ("format", .string("gguf")), ("version", .integer(file.header.version)),
                    ("alignment", .integer(file.header.alignment)), ("data_start", .integer(file.header.dataStart)),
                    ("metadata", .array(metadata)), ("tensors", .array(tensors)),
                ]))
        }
    }

    /// Exact values: floats as their bit patterns so NaN and -0 survive JSON; an array as its item
    /// type and items.
    static func value(_ value: GGUFValue) -> JSONValue {
        if case .array(let array) = value {
            let items = array.jsonItems { float in
                switch float {
                case .f32(let v): .integer(v.bitPattern)
                case .f64(let v): .integer(v.bitPattern)
                }
            }
            return .object(JSONObject([("array", .integer(array.elementType.rawValue)), ("items", .array(items))]))
        }
        return value.json { float in
            switch float {
            case .f32(let v): .object(JSONObject([("f32_bits", .integer(v.bitPattern))]))
            case .f64(let v): .object(JSONObject([("f64_bits", .integer(v.bitPattern))]))
            }
        }
    }

    static func ggmlTypes() -> JSONValue {
        .object(
            JSONObject(
                GGMLType.all.map { type in
                    (type.name, .array([.integer(type.id), .integer(type.blockSize), .integer(type.typeSize)]))
                }))
    }
}
