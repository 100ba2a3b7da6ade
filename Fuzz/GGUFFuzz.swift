// libFuzzer entry for the GGUF parser. Built by scripts/fuzz.sh with the ModelFormats sources.

@_cdecl("LLVMFuzzerTestOneInput")
public func ggufFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let header = try? GGUFHeader.parse(bytes) else { return 0 }
    // Every tensor that parsed must lie inside the input: touch its first and last byte.
    var sink: UInt8 = 0
    for tensor in header.tensors where tensor.byteCount > 0 {
        let start = header.dataStart + tensor.offset
        sink ^= bytes[start] ^ bytes[start + tensor.byteCount - 1]
    }
    return CInt(sink & 0)
}
