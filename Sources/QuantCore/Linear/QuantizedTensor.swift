/// A tensor quantized with a linear scheme: one code byte per element (packing to fewer bits is
/// a storage concern), and the scales/zero points in the layout of the granularity:
/// tensor: [1]; channel(axis): [shape[axis]]; group(g): [rows, ceil(last / g)] flattened.
public struct QuantizedTensor: Equatable, Sendable {
    public let scheme: LinearScheme
    public let shape: [Int]
    public var codes: [UInt8]
    public var parameters: LinearParameters

    public var elementCount: Int { shape.reduce(1, *) }

    /// Codes as signed integers (symmetric) or unsigned (asymmetric).
    public func code(at index: Int) -> Int32 {
        scheme.signedCodes ? Int32(Int8(bitPattern: codes[index])) : Int32(codes[index])
    }
}
