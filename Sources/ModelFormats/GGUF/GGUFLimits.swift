/// Caps on what one GGUF file may claim. Counts are also checked against the bytes that remain
/// before anything is allocated; these caps bound memory even for a file that really is that large.
public struct GGUFLimits: Sendable, Equatable {
    /// Tensors in one file.
    public var maxTensorCount = 262_144
    /// Metadata key/value pairs.
    public var maxKeyValueCount = 65_536
    /// Bytes of one string (the reference reader's cap is 2^30).
    public var maxStringBytes = 1 << 30
    /// Elements of one array (a 256k-token vocabulary is about 2^18; the reference allows 2^30).
    public var maxArrayCount = 1 << 24
    /// Tensor name bytes: ggml's GGML_MAX_NAME is 64 including the terminating NUL.
    public var maxNameBytes = 63

    public init() {}

    public static let `default` = GGUFLimits()
}
