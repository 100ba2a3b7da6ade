/// The element types GGUF and safetensors share: a tensor of one of these is the same bytes in
/// either file, so a copy between the formats only relabels it.
extension GGMLType {
    static let sameElements: [(dtype: DType, type: GGMLType)] = [
        (.f32, .f32), (.f16, .f16), (.bf16, .bf16), (.f64, .f64), (.i8, .i8), (.i16, .i16), (.i32, .i32), (.i64, .i64),
    ]

    /// The ggml type holding `dtype`'s elements as they are, if GGUF has one.
    public init?(sameElementsAs dtype: DType) {
        guard let pair = Self.sameElements.first(where: { $0.dtype == dtype }) else { return nil }
        self = pair.type
    }

    /// The safetensors dtype holding this type's elements as they are (none for block types).
    public var sameElementsDType: DType? { Self.sameElements.first { $0.type == self }?.dtype }
}
