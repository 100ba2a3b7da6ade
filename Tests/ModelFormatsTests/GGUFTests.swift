import Foundation
import Testing

@testable import ModelFormats

/// Builds GGUF bytes field by field, so each test can break exactly one thing.
struct GGUFBuilder {
    var out = HeaderBuffer()
    var version: UInt32 = 3
    var kvs: [(String, (inout HeaderBuffer) -> Void)] = []
    var infos: [(inout HeaderBuffer) -> Void] = []
    var kvCount: UInt64?
    var tensorCount: UInt64?
    var data: [UInt8] = []
    var alignment = 32

    mutating func kv(_ key: String, _ value: GGUFValue) {
        kvs.append(
            (
                key,
                { buffer in
                    buffer.append(value.type.rawValue)
                    buffer.append(value: value)
                }
            ))
    }

    mutating func rawKV(_ key: String, _ write: @escaping (inout HeaderBuffer) -> Void) { kvs.append((key, write)) }

    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64, rank: UInt32? = nil) {
        infos.append { buffer in
            buffer.append(string: name)
            buffer.append(rank ?? UInt32(dims.count))
            for dim in dims { buffer.append(dim) }
            buffer.append(type)
            buffer.append(offset)
        }
    }

    func bytes() -> [UInt8] {
        var buffer = HeaderBuffer()
        buffer.bytes += Array("GGUF".utf8)
        buffer.append(version)
        buffer.append(tensorCount ?? UInt64(infos.count))
        buffer.append(kvCount ?? UInt64(kvs.count))
        for (key, write) in kvs {
            buffer.append(string: key)
            write(&buffer)
        }
        for info in infos { info(&buffer) }
        while buffer.bytes.count % alignment != 0 { buffer.bytes.append(0) }
        return buffer.bytes + data
    }

    /// A valid file with one F32 [32] tensor.
    static func valid() -> GGUFBuilder {
        var builder = GGUFBuilder()
        builder.kv("general.architecture", .string("llama"))
        builder.tensor("w", dims: [32], type: 0, offset: 0)
        builder.data = [UInt8](repeating: 0, count: 128)
        return builder
    }
}

@Suite("GGUF reader and writer")
struct GGUFTests {
    func parse(_ builder: GGUFBuilder) throws { try parse(builder.bytes()) }
    func parse(_ bytes: [UInt8], limits: GGUFLimits = .default) throws {
        _ = try withBytes(bytes) { try GGUFHeader.parse($0, limits: limits) }
    }

    @Test func validFileParses() throws {
        let header = try withBytes(GGUFBuilder.valid().bytes()) { try GGUFHeader.parse($0) }
        #expect(header.tensors.count == 1 && header.tensors[0].shape == [32] && header.dataStart % 32 == 0)
    }

    @Test func writerRoundTripIsByteIdentical() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("a.gguf").path
        let second = directory.appendingPathComponent("b.gguf").path
        let metadata = [
            GGUFKeyValue("general.alignment", .uint32(16)), GGUFKeyValue("f", .float32(.nan)),
            GGUFKeyValue("arr", .array(.string(["x", "yz"]))), GGUFKeyValue("b", .array(.bool([true]))),
            GGUFKeyValue("d", .float64(-0.0)),
        ]
        let tensors = [
            GGUFTensorSpec(name: "q", shape: [3, 64], type: .q4_1), GGUFTensorSpec(name: "h", shape: [5], type: .f16),
            GGUFTensorSpec(name: "e", shape: [0, 32], type: .q8_0),
        ]
        let writer = try GGUFWriter(path: first, metadata: metadata, tensors: tensors)
        try writer.write((0..<(6 * 20 + 10)).map { UInt8(truncatingIfNeeded: $0) })
        try writer.finish()

        let file = try GGUFFile(path: first)
        #expect(file.metadata == metadata)
        #expect(file.header.alignment == 16)
        #expect(file.tensors.map(\.offset) == [0, 128, 144])
        let copy = try GGUFWriter(
            path: second, metadata: file.metadata,
            tensors: file.tensors.map { GGUFTensorSpec(name: $0.name, dims: $0.dims, type: $0.type) })
        for info in file.tensors { try copy.write(file.bytes(of: info)) }
        try copy.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: first)) == Data(contentsOf: URL(fileURLWithPath: second)))
    }

    @Test func writerRejectsWhatReadersWould() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(UUID()).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectFormatError(.invalidName) {
            _ = try GGUFWriter(
                path: path, metadata: [],
                tensors: [GGUFTensorSpec(name: String(repeating: "x", count: 64), shape: [32], type: .f32)])
        }
        expectFormatError(.blockSizeMismatch) {
            _ = try GGUFWriter(path: path, metadata: [], tensors: [GGUFTensorSpec(name: "x", shape: [33], type: .q8_0)])
        }
        expectFormatError(.invalidAlignment) {
            _ = try GGUFWriter(path: path, metadata: [GGUFKeyValue("general.alignment", .uint32(24))], tensors: [])
        }
        expectFormatError(.duplicateKey) {
            _ = try GGUFWriter(
                path: path, metadata: [GGUFKeyValue("a", .bool(true)), GGUFKeyValue("a", .bool(false))], tensors: [])
        }
    }

    // MARK: - Hostile input: one test per malformed case.

    @Test func badMagic() {
        var bytes = GGUFBuilder.valid().bytes()
        bytes[0] = UInt8(ascii: "X")
        expectFormatError(.badMagic) { try parse(bytes) }
    }

    @Test(arguments: [UInt32(0), 1, 4, 0xFFFF_FFFF])
    func unsupportedVersion(version: UInt32) {
        var builder = GGUFBuilder.valid()
        builder.version = version
        expectFormatError(.unsupportedVersion) { try parse(builder) }
    }

    @Test func versionTwoIsReadable() throws {
        var builder = GGUFBuilder.valid()
        builder.version = 2
        try parse(builder)
    }

    @Test func truncatedHeader() {
        expectFormatError(.truncated) { try parse(Array(GGUFBuilder.valid().bytes().prefix(12))) }
        expectFormatError(.truncated) { try parse(Array(GGUFBuilder.valid().bytes().prefix(40))) }
    }

    @Test func countsBeyondLimitsOrRemainingBytes() {
        var builder = GGUFBuilder.valid()
        builder.tensorCount = UInt64.max
        expectFormatError(.limitExceeded) { try parse(builder) }
        builder.tensorCount = nil
        builder.kvCount = 60_000
        expectFormatError(.truncated) { try parse(builder) }
    }

    @Test func stringLongerThanFile() {
        var builder = GGUFBuilder.valid()
        builder.rawKV("s") { buffer in
            buffer.append(GGUFValueType.string.rawValue)
            buffer.append(UInt64(1 << 29))
        }
        let error = expectFormatError(.truncated) { try parse(builder) }
        #expect(error?.offset != nil)
        var huge = GGUFBuilder.valid()
        huge.rawKV("s") { buffer in
            buffer.append(GGUFValueType.string.rawValue)
            buffer.append(UInt64.max)
        }
        expectFormatError(.limitExceeded) { try parse(huge) }
    }

    @Test func emptyKey() {
        var builder = GGUFBuilder.valid()
        builder.kv("", .uint8(1))
        expectFormatError(.emptyKey) { try parse(builder) }
    }

    @Test func duplicateKey() {
        var builder = GGUFBuilder.valid()
        builder.kv("general.architecture", .string("gpt2"))
        expectFormatError(.duplicateKey) { try parse(builder) }
    }

    @Test func unknownValueType() {
        var builder = GGUFBuilder.valid()
        builder.rawKV("x") { $0.append(UInt32(13)) }
        expectFormatError(.unknownValueType) { try parse(builder) }
    }

    @Test func arrayOfArrays() {
        var builder = GGUFBuilder.valid()
        builder.rawKV("x") { buffer in
            buffer.append(GGUFValueType.array.rawValue)
            buffer.append(GGUFValueType.array.rawValue)
            buffer.append(UInt64(0))
        }
        expectFormatError(.nestedArray) { try parse(builder) }
    }

    @Test func arrayCountBeyondRemainingBytes() {
        var builder = GGUFBuilder.valid()
        builder.rawKV("x") { buffer in
            buffer.append(GGUFValueType.array.rawValue)
            buffer.append(GGUFValueType.uint64.rawValue)
            buffer.append(UInt64(1 << 20))
        }
        expectFormatError(.truncated) { try parse(builder) }
        var huge = GGUFBuilder.valid()
        huge.rawKV("x") { buffer in
            buffer.append(GGUFValueType.array.rawValue)
            buffer.append(GGUFValueType.string.rawValue)
            buffer.append(UInt64(1) << 62)
        }
        expectFormatError(.limitExceeded) { try parse(huge) }
    }

    @Test func boolOutOfRange() {
        var builder = GGUFBuilder.valid()
        builder.rawKV("b") { buffer in
            buffer.append(GGUFValueType.bool.rawValue)
            buffer.append(UInt8(2))
        }
        expectFormatError(.invalidValue) { try parse(builder) }
    }

    @Test func keyNotUTF8() {
        var builder = GGUFBuilder.valid()
        builder.rawKV("k") { buffer in
            buffer.bytes[buffer.bytes.count - 1] = 0xFF
            buffer.append(GGUFValueType.uint8.rawValue)
            buffer.append(UInt8(1))
        }
        expectFormatError(.invalidUTF8) { try parse(builder) }
    }

    @Test(arguments: [GGUFValue.uint32(0), .uint32(48), .uint64(32), .string("32")])
    func invalidAlignment(value: GGUFValue) {
        var builder = GGUFBuilder.valid()
        builder.kv("general.alignment", value)
        expectFormatError(.invalidAlignment) { try parse(builder) }
    }

    @Test(arguments: [UInt32(0), 5, 0xFFFF_FFFF])
    func rankOutOfRange(rank: UInt32) {
        var builder = GGUFBuilder.valid()
        builder.infos = []
        builder.tensor("w", dims: [32], type: 0, offset: 0, rank: rank)
        let error = expectFormatError(rank == 0 ? .invalidDims : .invalidDims) { try parse(builder) }
        #expect(error?.tensor == "w")
    }

    @Test func negativeDimension() {
        var builder = GGUFBuilder.valid()
        builder.infos = []
        builder.tensor("w", dims: [32, UInt64(bitPattern: -1)], type: 0, offset: 0)
        expectFormatError(.invalidDims) { try parse(builder) }
    }

    @Test func elementCountOverflow() {
        var builder = GGUFBuilder.valid()
        builder.infos = []
        builder.tensor("w", dims: [1 << 32, 1 << 32], type: 0, offset: 0)
        expectFormatError(.sizeOverflow) { try parse(builder) }
        var bytes = GGUFBuilder.valid()
        bytes.infos = []
        bytes.tensor("w", dims: [1 << 31, 1 << 31], type: 0, offset: 0)  // 2^62 elements * 4 bytes
        expectFormatError(.sizeOverflow) { try parse(bytes) }
    }

    @Test(arguments: [UInt32(4), 31, 99])
    func unknownOrRemovedType(type: UInt32) {
        var builder = GGUFBuilder.valid()
        builder.infos = []
        builder.tensor("w", dims: [32], type: type, offset: 0)
        let error = expectFormatError(.unknownTensorType) { try parse(builder) }
        #expect(error?.message.contains(type == 99 ? "unknown" : "removed") == true)
    }

    @Test func rowNotMultipleOfBlockSize() {
        var builder = GGUFBuilder.valid()
        builder.infos = []
        builder.tensor("w", dims: [33], type: GGMLType.q8_0.id, offset: 0)
        expectFormatError(.blockSizeMismatch) { try parse(builder) }
    }

    @Test func offsetNotTheRunningSum() {
        var builder = GGUFBuilder.valid()
        builder.infos = []
        builder.tensor("a", dims: [32], type: 0, offset: 0)
        builder.tensor("b", dims: [32], type: 0, offset: 64)  // aligned, but should be 128
        builder.data = [UInt8](repeating: 0, count: 256)
        let error = expectFormatError(.offsetMismatch) { try parse(builder) }
        #expect(error?.tensor == "b")
    }

    @Test func dataPastEndOfFile() {
        var builder = GGUFBuilder.valid()
        builder.data = [UInt8](repeating: 0, count: 127)
        expectFormatError(.dataOutOfBounds) { try parse(builder) }
    }

    @Test func duplicateTensorName() {
        var builder = GGUFBuilder.valid()
        builder.tensor("w", dims: [32], type: 0, offset: 128)
        builder.data = [UInt8](repeating: 0, count: 256)
        expectFormatError(.duplicateName) { try parse(builder) }
    }

    @Test func tensorNameTooLong() {
        var builder = GGUFBuilder.valid()
        builder.infos = []
        builder.tensor(String(repeating: "n", count: 64), dims: [32], type: 0, offset: 0)
        expectFormatError(.invalidName) { try parse(builder) }
    }

    @Test func everyTruncationOfAValidFileThrows() {
        // No prefix of a valid file may crash or be accepted with data missing.
        let bytes = GGUFBuilder.valid().bytes()
        for length in 0..<bytes.count {
            #expect(throws: FormatError.self) { try parse(Array(bytes.prefix(length))) }
        }
    }
}

@Suite("ggml types and safetensors dtypes")
struct SameElementTypesTests {
    /// A copy between the formats relabels the bytes, so each pair must hold elements of one width,
    /// and the mapping must go both ways.
    @Test func pairsHoldTheSameElements() throws {
        let shared: [DType] = [.f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64]
        for dtype in shared {
            let type = try #require(GGMLType(sameElementsAs: dtype), "\(dtype)")
            #expect(type.blockSize == 1 && type.typeSize * 8 == dtype.bitWidth, "\(dtype) -> \(type)")
            #expect(type.sameElementsDType == dtype)
        }
        #expect(GGMLType(sameElementsAs: .u8) == nil && GGMLType(sameElementsAs: .f8E4M3) == nil)
        #expect(GGMLType.q4_K.sameElementsDType == nil && GGMLType.q8_0.sameElementsDType == nil)
    }
}
