import Foundation
import QuantTesting
import Testing

@testable import ModelFormats

/// A fresh temporary directory per test, removed by the caller's `defer`.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("qs-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body` on the bytes of `data` as the parsers see them.
func withBytes<R>(_ data: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try data.withUnsafeBytes(body)
}

/// Asserts that `body` throws a FormatError with `code`, and returns it for further checks.
@discardableResult
func expectFormatError(
    _ code: FormatError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> FormatError? {
    do {
        try body()
        Issue.record("expected \(code), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FormatError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected FormatError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A safetensors file from a literal header string and a data buffer.
func safetensorsBytes(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { out += $0 }
    return out + json + data
}
