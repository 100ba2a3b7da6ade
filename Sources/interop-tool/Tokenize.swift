import Foundation
import JSON
import ModelArchitectures
import ModelFormats

/// Our tokenizer's ids for the Python tests to compare with the `tokenizers` package.
enum Tokenize {
    static func ids(tokenizer path: String, texts: String) throws -> JSONValue {
        let tokenizer = try Tokenizer(path: path)
        guard let data = FileManager.default.contents(atPath: texts),
            let strings = try StrictJSON.parse(String(decoding: data, as: UTF8.self)).arrayValue?.compactMap(\.stringValue)
        else {
            throw ToolError("\(texts) must hold a JSON array of strings")
        }
        let encode = { (special: Bool) in
            JSONValue.array(strings.map { .array(tokenizer.encode($0, addSpecialTokens: special).map { .integer($0) }) })
        }
        return .object(JSONObject([("plain", encode(false)), ("special", encode(true))]))
    }
}
