import Foundation
import Testing

@testable import ModelFormats

@Suite("safetensors reader and writer")
struct SafetensorsTests {
    @Test func writesThenReadsEveryDType() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("all.safetensors").path
        var specs: [TensorSpec] = []
        var payloads: [[UInt8]] = []
        for (index, dtype) in DType.allCases.enumerated() {
            let shape = [2, 4 * (index % 3 + 1)]
            specs.append(TensorSpec(name: "t\(index)", dtype: dtype, shape: shape))
            let size = try dtype.byteCount(elements: shape.reduce(1, *))
            payloads.append((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
        }
        specs.append(TensorSpec(name: "scalar", dtype: .f32, shape: []))
        payloads.append([0, 0, 0x80, 0x3F])
        specs.append(TensorSpec(name: "empty", dtype: .bf16, shape: [3, 0]))
        payloads.append([])
        let writer = try SafetensorsWriter(path: path, tensors: specs, metadata: [("format", "pt"), ("ü", "✓")])
        // Stream in odd-sized chunks that straddle tensor boundaries.
        let all = payloads.flatMap { $0 }
        for start in stride(from: 0, to: all.count, by: 7) { try writer.write(Array(all[start..<min(start + 7, all.count)])) }
        try writer.finish()

        let file = try SafetensorsFile(path: path)
        #expect(file.metadata.map(\.key) == ["format", "ü"])
        #expect(file.metadata.map(\.value) == ["pt", "✓"])
        #expect(file.tensors.count == specs.count)
        #expect((file.header.dataStart) % 8 == 0)
        for (spec, payload) in zip(specs, payloads) {
            let info = try file.tensorInfo(named: spec.name)
            #expect(info.dtype == spec.dtype && info.shape == spec.shape)
            #expect(Array(file.bytes(of: info)) == payload)
        }
        #expect(try file.tensor(named: "scalar").floats() == [1])
    }

    @Test func writerRejectsMisuse() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("x.safetensors").path
        let spec = TensorSpec(name: "a", dtype: .f32, shape: [2])
        expectFormatError(.duplicateName) { _ = try SafetensorsWriter(path: path, tensors: [spec, spec]) }
        expectFormatError(.invalidName) {
            _ = try SafetensorsWriter(path: path, tensors: [TensorSpec(name: "__metadata__", dtype: .f32, shape: [1])])
        }
        expectFormatError(.subByteMisaligned) {
            _ = try SafetensorsWriter(path: path, tensors: [TensorSpec(name: "a", dtype: .f4, shape: [3])])
        }
        let writer = try SafetensorsWriter(path: path, tensors: [spec])
        try writer.write([1, 2, 3])
        expectFormatError(.writerMisuse) { try writer.finish() }
        expectFormatError(.writerMisuse) { try writer.write([UInt8](repeating: 0, count: 6)) }
    }

    // MARK: - Hostile input: one test per malformed case, each asserting its specific error.

    static let f32Entry = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    func parse(_ bytes: [UInt8], limits: SafetensorsLimits = .default) throws {
        _ = try withBytes(bytes) { try SafetensorsHeader.parse($0, limits: limits) }
    }

    @Test func fileTooSmall() { expectFormatError(.fileTooSmall) { try parse([1, 0, 0]) } }

    @Test func headerLengthOverLimit() {
        expectFormatError(.headerTooLarge) { try parse(safetensorsBytes(header: "{}", declaredLength: 1 << 40)) }
        expectFormatError(.headerTooLarge) { try parse(safetensorsBytes(header: "{}", declaredLength: UInt64.max)) }
    }

    @Test func headerPastEndOfFile() {
        expectFormatError(.headerOutOfBounds) { try parse(safetensorsBytes(header: "{}", declaredLength: 100)) }
    }

    @Test func headerNotUTF8() {
        var bytes = safetensorsBytes(header: #"{"\#u{00e9}":1}"#)
        bytes[10] = 0xFF
        expectFormatError(.invalidUTF8) { try parse(bytes) }
    }

    @Test func headerNotJSON() {
        let error = expectFormatError(.invalidJSON) { try parse(safetensorsBytes(header: #"{"a":{"dtype""#)) }
        #expect(error?.offset != nil)
    }

    @Test func headerNotAnObject() {
        expectFormatError(.invalidHeader) { try parse(safetensorsBytes(header: "[1,2]")) }
    }

    @Test func duplicateTensorName() {
        expectFormatError(.duplicateKey) {
            try parse(safetensorsBytes(header: "{\(Self.f32Entry),\(Self.f32Entry)}", data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test func unknownDType() {
        let error = expectFormatError(.unknownDType) {
            try parse(
                safetensorsBytes(
                    header: #"{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)))
        }
        #expect(error?.tensor == "a")
    }

    @Test(arguments: [
        #"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#,
        #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#,
        #"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#,
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}"#,
        #"{"a":{"dtype":"F32","shape":[2]}}"#,
        #"{"a":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}"#,
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#,
        #"{"a":[1,2]}"#,
    ])
    func wrongFieldTypes(header: String) {
        let error = expectFormatError(.invalidHeader) {
            try parse(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)))
        }
        #expect(error?.tensor == "a")
    }

    @Test(arguments: [
        #"{"__metadata__":{"k":1}}"#, #"{"__metadata__":"text"}"#, #"{"__metadata__":{"k":["v"]}}"#,
        #"{"__metadata__":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#,
    ])
    func metadataNotAStringMap(header: String) {
        expectFormatError(.invalidMetadata) { try parse(safetensorsBytes(header: header)) }
    }

    @Test func endBeforeBegin() {
        expectFormatError(.invalidOffsets) {
            try parse(
                safetensorsBytes(
                    header: #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}"#, data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test func gapBetweenTensors() {
        let header =
            #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}"#
        let error = expectFormatError(.invalidOffsets) {
            try parse(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12)))
        }
        #expect(error?.tensor == "b")
    }

    @Test func overlappingTensors() {
        let header = #"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#
        expectFormatError(.invalidOffsets) { try parse(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8))) }
    }

    @Test func bufferDoesNotStartAtZero() {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#
        expectFormatError(.invalidOffsets) { try parse(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8))) }
    }

    @Test func shapeProductOverflows() {
        let header = #"{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}}"#
        expectFormatError(.sizeOverflow) { try parse(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8))) }
        let bytes = #"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#
        expectFormatError(.sizeOverflow) { try parse(safetensorsBytes(header: bytes, data: [UInt8](repeating: 0, count: 8))) }
        let offsets = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551615]}}"#
        expectFormatError(.sizeOverflow) { try parse(safetensorsBytes(header: offsets, data: [0])) }
    }

    @Test func hugeShapeBackedBySmallBuffer() {
        // The published bug: 2^42+1 rows claimed, 4 MB present.
        let header = #"{"a":{"dtype":"F32","shape":[4398046511105,1],"data_offsets":[0,4194304]}}"#
        let error = expectFormatError(.sizeMismatch) {
            try parse(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 4_194_304)))
        }
        #expect(error?.tensor == "a")
    }

    @Test func sizeDoesNotMatchShape() {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        expectFormatError(.sizeMismatch) { try parse(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8))) }
    }

    @Test func subByteTensorNotWholeBytes() {
        let header = #"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#
        expectFormatError(.subByteMisaligned) { try parse(safetensorsBytes(header: header, data: [0, 0])) }
    }

    @Test func trailingBytes() {
        let error = expectFormatError(.trailingBytes) {
            try parse(safetensorsBytes(header: "{\(Self.f32Entry)}", data: [UInt8](repeating: 0, count: 9)))
        }
        #expect(error?.offset != nil)
    }

    @Test func dataPastEndOfFile() {
        expectFormatError(.dataOutOfBounds) { try parse(safetensorsBytes(header: "{\(Self.f32Entry)}", data: [0, 0, 0])) }
    }

    @Test func limitsAreEnforced() {
        var limits = SafetensorsLimits()
        limits.maxTensorCount = 1
        let two = #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#
        expectFormatError(.limitExceeded) { try parse(safetensorsBytes(header: two), limits: limits) }
        let deep = #"{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}"#
        expectFormatError(.limitExceeded) { try parse(safetensorsBytes(header: deep, data: [0])) }
        let longName = "{\"\(String(repeating: "n", count: 1025))\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}"
        expectFormatError(.limitExceeded) { try parse(safetensorsBytes(header: longName)) }
    }

    @Test func deeplyNestedMetadata() {
        let nested = #"{"__metadata__":{"k":"# + String(repeating: "[", count: 10_000) + "}"
        expectFormatError(.invalidJSON) { try parse(safetensorsBytes(header: nested)) }
    }

    @Test func emptyFileAndEmptyHeaderAreHandled() throws {
        // "{}" padded to 8: a valid file with no tensors.
        let header = try withBytes(safetensorsBytes(header: "{}      ")) { try SafetensorsHeader.parse($0) }
        #expect(header.tensors.isEmpty)
        expectFormatError(.fileTooSmall) { try parse([]) }
    }

    @Test func missingFileIsAnIOError() {
        expectFormatError(.io) { _ = try SafetensorsFile(path: "/nonexistent/model.safetensors") }
        expectFormatError(.io) { _ = try SafetensorsFile(path: "/tmp") }
    }

    @Test func everyTruncationOfAValidFileThrows() {
        let bytes = safetensorsBytes(header: "{\(Self.f32Entry)}", data: [UInt8](repeating: 0, count: 8))
        for length in 0..<bytes.count {
            #expect(throws: FormatError.self) { try parse(Array(bytes.prefix(length))) }
        }
        #expect(throws: Never.self) { try parse(bytes) }
    }
}
