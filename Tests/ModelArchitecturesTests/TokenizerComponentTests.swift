import JSON
import Testing

@testable import ModelArchitectures

/// tokenizer.json components this tokenizer does not run are refused by name (never a silently
/// different tokenization); Sequence components run their parts in order.
@Suite("Tokenizer components")
struct TokenizerComponentTests {
    static func tokenizer(_ components: String) throws -> Tokenizer {
        let json =
            #"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "ab": 1, "cd": 2}, "unk_token": "[UNK]"}, "#
            + components + "}"
        return try Tokenizer(json: try #require(StrictJSON.parse(json).objectValue))
    }

    @Test func unknownComponentsAreNamedWithWhatIsImplemented() throws {
        let cases = [
            (#""normalizer": {"type": "Precompiled"}"#, "normalizer Precompiled is not implemented (NFC, "),
            (#""pre_tokenizer": {"type": "UnicodeScripts"}"#, "pre-tokenizer UnicodeScripts is not implemented (Split, "),
            (#""post_processor": {"type": "Foo"}"#, "post-processor Foo is not implemented (TemplateProcessing, "),
        ]
        for (component, message) in cases {
            #expect {
                try Self.tokenizer(component)
            } throws: { error in
                "\(error)".hasPrefix("tokenizer.json: " + message) && "\(error)".hasSuffix("Sequence are)")
            }
        }
    }

    @Test func sequencesRunTheirPartsInOrderAndNameTheFailingOne() throws {
        let sequence = try Self.tokenizer(
            #""normalizer": {"type": "Sequence", "normalizers": [{"type": "Lowercase"}, {"type": "Replace", "pattern": {"String": "x"}, "content": ""}]}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}]}"#
        )
        #expect(sequence.encode("AB xcXd", addSpecialTokens: false) == [1, 2])
        #expect {
            try Self.tokenizer(#""normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"kind": "NFD"}]}"#)
        } throws: { error in
            "\(error)".contains("normalizer.normalizers[1]")
        }
    }
}
