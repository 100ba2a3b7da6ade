import JSON
import ModelFormats

/// What `quantctl inspect` says about a file, rendered as text or JSON. Kept apart from the command
/// so tests can check the output without spawning a process.
struct InspectReport {
    let format: ModelFormat
    let fileSize: Int
    let tensors: [TensorSummary]
    let metadata: JSONObject
    /// GGUF version (2 or 3); nil for safetensors.
    let ggufVersion: UInt32?

    /// GGUF arrays longer than this are summarised (type, count, first items) in the output: a
    /// tokenizer vocabulary has hundreds of thousands of entries.
    static let maxArrayItems = 64

    init(_ model: ModelFile) {
        format = model.format
        if case .gguf(let file) = model { ggufVersion = file.header.version } else { ggufVersion = nil }
        fileSize = model.fileSize
        tensors = model.tensors
        switch model {
        case .safetensors(let file):
            metadata = JSONObject(file.metadata.map { ($0.key, JSONValue.string($0.value)) })
        case .gguf(let file):
            var object = JSONObject()
            for entry in file.metadata { object[entry.key] = Self.json(entry.value) }
            metadata = object
        }
    }

    var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// Bytes per dtype, in order of first appearance.
    var bytesPerDType: [(dtype: String, tensors: Int, bytes: Int)] {
        var order: [String] = []
        var totals: [String: (Int, Int)] = [:]
        for tensor in tensors {
            if totals[tensor.dtype] == nil { order.append(tensor.dtype) }
            let (count, bytes) = totals[tensor.dtype] ?? (0, 0)
            totals[tensor.dtype] = (count + 1, bytes + tensor.byteCount)
        }
        return order.map { ($0, totals[$0]!.0, totals[$0]!.1) }
    }

    func json() -> String {
        let tensorList = tensors.map { tensor in
            JSONValue.object(
                JSONObject([
                    ("name", .string(tensor.name)),
                    ("dtype", .string(tensor.dtype)),
                    ("shape", .array(tensor.shape.map { .integer($0) })),
                    ("bytes", .integer(tensor.byteCount)),
                ]))
        }
        var object = JSONObject([
            ("format", .string(format.rawValue)),
            ("file_size", .integer(fileSize)),
            ("tensor_count", .integer(tensors.count)),
            ("parameter_count", .integer(parameterCount)),
            ("tensors", .array(tensorList)),
            ("metadata", .object(metadata)),
        ])
        if let ggufVersion { object["gguf_version"] = .integer(ggufVersion) }
        return JSONValue.object(object).serialized
    }

    func text() -> String {
        var out = ""
        out += "format:          \(format.rawValue)\(ggufVersion.map { " v\($0)" } ?? "")\n"
        out += "file size:       \(fileSize) bytes (\(ByteFormatter.human(fileSize)))\n"
        out += "tensors:         \(tensors.count)\n"
        out += "parameters:      \(parameterCount)\n"
        out += "bytes per dtype:\n"
        for row in bytesPerDType {
            out +=
                "  \(row.dtype.padding(8))  \(String(row.tensors).leftPadding(6)) tensors  \(String(row.bytes).leftPadding(14)) bytes\n"
        }
        if metadata.count > 0 {
            out += "metadata:        \(metadata.count) entries\n"
            for (key, value) in metadata.entries {
                let text = value.stringValue ?? value.serialized
                out += "  \(key) = \(text.count > 100 ? String(text.prefix(97)) + "..." : text)\n"
            }
        }
        let table = TextTable(
            headers: ["name", "dtype", "shape", "bytes"],
            rows: tensors.map {
                [$0.name, $0.dtype, "[" + $0.shape.map(String.init).joined(separator: ", ") + "]", String($0.byteCount)]
            },
            rightAligned: [3])
        out += table.render()
        return out
    }

    /// A metadata value; an array of more than `maxArrayItems` as its type, count and first items.
    static func json(_ value: GGUFValue) -> JSONValue {
        let float: (GGUFFloat) -> JSONValue = { number($0.double) }
        guard case .array(let array) = value, array.count > maxArrayItems else { return value.json(float: float) }
        return .object(
            JSONObject([
                ("array_of", .string(String(describing: array.elementType))),
                ("count", .integer(array.count)),
                ("first", .array(array.jsonItems(limit: maxArrayItems, float: float))),
            ]))
    }

    static func number(_ value: Double) -> JSONValue {
        value.isFinite ? .number(String(describing: value)) : .string(String(describing: value))
    }

}
