import JSON

/// The one error type of ModelFormats: a stable code for programs, a message for people, and where
/// in the file the problem sits (byte offset and/or tensor name) so a user knows what to fix.
public struct FormatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable identifiers for every check a reader or writer makes. Tests assert on these.
    public enum Code: String, Sendable, CaseIterable {
        // Shared
        case io
        /// The disk (or the quota, or the file size limit) is full: ENOSPC, EDQUOT, EFBIG.
        case noSpace
        case truncated
        case invalidUTF8
        case limitExceeded
        case sizeOverflow
        case unknownDType
        case duplicateName
        case invalidName
        case writerMisuse
        // safetensors
        case fileTooSmall
        case headerTooLarge
        case headerOutOfBounds
        case invalidJSON
        case duplicateKey
        case invalidHeader
        case invalidMetadata
        case invalidOffsets
        case sizeMismatch
        case subByteMisaligned
        case trailingBytes
        // GGUF
        case badMagic
        case unsupportedVersion
        case emptyKey
        case unknownValueType
        case nestedArray
        case invalidValue
        case invalidDims
        case invalidAlignment
        case blockSizeMismatch
        case offsetMismatch
        case dataOutOfBounds
        case unknownTensorType
        // Hugging Face checkpoints (a directory or an uploaded bundle of files)
        case invalidFileName
        case invalidIndex
        case missingShard
        case shardMismatch
        case invalidConfig
        // tar archives (bundle uploads and artifacts)
        case invalidArchive
    }

    public let code: Code
    public let message: String
    /// Byte offset in the file where the failing field starts, when known.
    public let offset: Int?
    /// Name of the tensor the check failed on, when there is one.
    public let tensor: String?

    public init(_ code: Code, _ message: String, offset: Int? = nil, tensor: String? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.tensor = tensor
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let tensor { text += " (tensor '\(tensor)')" }
        if let offset { text += " (at byte \(offset))" }
        return text
    }
}

extension FormatError {
    /// A JSON document inside a file (`what`, starting at byte `base`) that does not parse.
    init(_ error: JSONError, what: String, at base: Int) {
        let code: Code =
            switch error.kind {
            case .syntax: .invalidJSON
            case .duplicateKey: .duplicateKey
            case .invalidUTF8: .invalidUTF8
            }
        self.init(code, "\(what): \(error.message)", offset: base + error.offset)
    }
}
