// libFuzzer entry for the safetensors parser. Built by scripts/fuzz.sh together with the
// ModelFormats sources (not part of the SwiftPM package).

@_cdecl("LLVMFuzzerTestOneInput")
public func safetensorsFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let header = try? SafetensorsHeader.parse(bytes) else { return 0 }
    // A header that parsed must describe bytes that really exist: decode every float tensor.
    for tensor in header.tensors where tensor.dtype.isFloatingPoint && tensor.byteCount <= 1 << 16 {
        let start = header.dataStart + tensor.dataRange.lowerBound
        let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + tensor.byteCount)])
        _ = try? FloatCodec.toFloat32(tensor.dtype, bytes: slice)
    }
    return 0
}
