import Testing

@testable import JSON

@Suite("Strict JSON")
struct StrictJSONTests {
    @Test func parsesAndKeepsOrder() throws {
        let value = try StrictJSON.parse(#"{"b": [1, -2.5e3, true, null], "a": "x\u00e9\ud83d\ude00\n"}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a"])
        #expect(object["a"]?.stringValue == "xé😀\n")
        #expect(object["b"]?.arrayValue?.count == 4)
        #expect(value.serialized == #"{"b":[1,-2.5e3,true,null],"a":"xé😀\n"}"#)
    }

    @Test func rejectsDuplicateKeys() {
        let error = expectJSONError(.duplicateKey) { _ = try StrictJSON.parse(#"{"a": 1, "a": 2}"#) }
        #expect(error?.offset == 9)  // the second key's opening quote
    }

    @Test(arguments: [
        "", "{", "{\"a\" 1}", "[1,]", "01", "1.", "-", "\"\\x\"", "\"\u{01}\"", "{\"a\":1}x", "tru", "\"\\ud800\"",
        "[1 2]", "{,}", "\"abc",
    ])
    func rejectsMalformed(text: String) {
        expectJSONError(.syntax) { _ = try StrictJSON.parse(text) }
    }

    @Test func capsNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        expectJSONError(.syntax) { _ = try StrictJSON.parse(deep) }
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { _ = try StrictJSON.parse(ok) }
    }

    @Test func integersKeepTheirText() throws {
        let value = try StrictJSON.parse("18446744073709551615")
        #expect(value.uint64Value == UInt64.max)
        #expect(try StrictJSON.parse("-1").uint64Value == nil)
        #expect(try StrictJSON.parse("1.0").uint64Value == nil)
        #expect(try StrictJSON.parse("1e3").uint64Value == nil)
    }
}

@discardableResult
func expectJSONError(_ kind: JSONError.Kind, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void)
    -> JSONError?
{
    do {
        try body()
        Issue.record("expected \(kind), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as JSONError {
        #expect(error.kind == kind, "got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected JSONError \(kind), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
