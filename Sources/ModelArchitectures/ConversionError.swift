/// Why a checkpoint cannot be converted: each says what is wrong and what would work instead.
public struct ConversionError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// `config.json`'s architecture has no converter here.
        case unsupportedArchitecture
        /// `config.json` lacks a field the architecture needs, or holds a wrong value.
        case invalidConfig
        /// A tensor the architecture does not know, or of the wrong shape.
        case unexpectedTensor
        /// The tokenizer files are missing or use a component llama.cpp has no twin for.
        case unsupportedTokenizer
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
