/// Why a document is not the JSON `StrictJSON` accepts, and where: readers of files map it to their
/// own error (a safetensors header, a checkpoint's config), the API to a 400 naming the offset.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Not RFC 8259 JSON, or nested deeper than the parser's limit.
        case syntax
        /// An object names one key twice (readers could keep either value).
        case duplicateKey
        /// A string's bytes are not UTF-8.
        case invalidUTF8
    }

    public let kind: Kind
    public let message: String
    /// Byte offset in the document where the problem starts.
    public let offset: Int

    public init(_ kind: Kind, _ message: String, offset: Int) {
        self.kind = kind
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) (at byte \(offset))" }
}
