import Foundation
import Testing

@testable import JSON

@Suite("JSON writer")
struct JSONWriterTests {
    @Test func treeAndStreamWriteTheSameBytes() throws {
        let tree = try StrictJSON.parse(#"{"a":[1,{"b":null,"c":"x\"y\\z\n\u0001"}],"d":true,"e":-2.5e3}"#)
        var stream = JSONStream()
        stream.beginObject()
        stream.key("a")
        stream.beginArray()
        stream.integer(1)
        stream.beginObject()
        stream.key("b")
        stream.string(nil)
        stream.key("c")
        stream.string("x\"y\\z\n\u{01}")
        stream.endObject()
        stream.endArray()
        stream.key("d")
        stream.value(.bool(true))
        stream.key("e")
        stream.fragment("-2.5e3")
        stream.endObject()
        #expect(stream.bytes == tree.serializedBytes)
        #expect(tree.serialized == #"{"a":[1,{"b":null,"c":"x\"y\\z\n\u0001"}],"d":true,"e":-2.5e3}"#)
    }

    @Test func numbersHaveTheirPrecisionAndNoNaN() {
        #expect(JSONValue.number(0.123456789, significantDigits: 6) == .number("0.123457"))
        #expect(JSONValue.number(42, significantDigits: 6) == .number("42"))
        #expect(JSONValue.number(2.5, decimals: 3) == .number("2.500"))
        #expect(JSONValue.number(.nan, decimals: 3) == .null)
        #expect(JSONValue.number(.infinity, significantDigits: 6) == .null)
    }

    @Test func codableKeepsKeysAsTheyAreAndValuesAsTheyWere() throws {
        let value = try StrictJSON.parse(#"{"Layer.W":{"q4_k":[1,0.1,-3]},"flag":false,"none":null,"text":"é"}"#)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(value)
        let back = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(back == value)
    }
}
