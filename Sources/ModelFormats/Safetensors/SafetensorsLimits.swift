/// Caps on what one safetensors file may claim, checked before anything is allocated for it.
/// The reference reader caps only the header (100,000,000 bytes); ours are tighter so that a
/// hostile header cannot make us build a huge in-memory table. Every cap is documented in
/// docs/INPUT-FORMATS.md and can be raised by a caller that needs to.
public struct SafetensorsLimits: Sendable, Equatable {
    /// Bytes of JSON header (the reference allows 100,000,000).
    public var maxHeaderBytes = 64 << 20
    /// Tensors in one file.
    public var maxTensorCount = 131_072
    /// Dimensions of one tensor.
    public var maxRank = 16
    /// UTF-8 bytes of one tensor name.
    public var maxNameBytes = 1024
    /// Entries in `__metadata__`.
    public var maxMetadataEntries = 65_536

    public init() {}

    public static let `default` = SafetensorsLimits()
}
