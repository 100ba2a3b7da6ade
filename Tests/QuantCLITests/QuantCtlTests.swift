import Foundation
import JSON
import ModelFormats
import Testing

@testable import QuantCLI

@Suite("quantctl")
struct QuantCtlTests {
    @Test func rootHelpListsCommandsAndExitCodes() {
        let help = QuantCtl.helpMessage()
        #expect(help.contains("inspect"))
        #expect(help.contains("Exit codes: 0 success, 1 user error"))
    }

    @Test func inspectHelpDescribesOptions() {
        let help = QuantCtl.helpMessage(for: InspectCommand.self)
        #expect(help.contains("USAGE: quantctl inspect <file> [--json]"))
        #expect(help.contains("--json"))
        #expect(help.contains("Validate a safetensors or GGUF file"))
    }

    @Test func inspectRequiresAFile() {
        #expect(throws: (any Error).self) { _ = try QuantCtl.parseAsRoot(["inspect"]) }
    }

    @Test func reportCountsParametersAndBytes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("m.safetensors").path
        let writer = try SafetensorsWriter(
            path: path,
            tensors: [TensorSpec(name: "w", dtype: .bf16, shape: [3, 4]), TensorSpec(name: "b", dtype: .f32, shape: [3])],
            metadata: [("format", "pt")])
        try writer.write([UInt8](repeating: 0, count: 24 + 12))
        try writer.finish()

        let report = InspectReport(try ModelFile.open(path: path))
        #expect(report.parameterCount == 15)
        #expect(report.bytesPerDType.map(\.dtype) == ["BF16", "F32"])
        #expect(report.bytesPerDType.map(\.bytes) == [24, 12])
        let json = try StrictJSON.parse(report.json()).objectValue
        #expect(
            json?.keys.starts(with: ["format", "file_size", "tensor_count", "parameter_count", "tensors", "metadata"]) == true)
        #expect(json?["tensor_count"]?.intValue == 2)
        #expect(json?["metadata"]?.objectValue?["format"]?.stringValue == "pt")
        let text = report.text()
        #expect(text.contains("parameters:      15"))
        #expect(text.contains("w     BF16   [3, 4]     24"))
    }

    @Test func longGGUFArraysAreSummarised() {
        let value = InspectReport.json(.array(.int32(Array(0..<1000))))
        #expect(value.objectValue?["count"]?.intValue == 1000)
        #expect(value.objectValue?["first"]?.arrayValue?.count == InspectReport.maxArrayItems)
        #expect(InspectReport.json(.float32(.nan)) == .string("nan"))
    }

    @Test func humanSizes() {
        #expect(ByteFormatter.human(512) == "512 B")
        #expect(ByteFormatter.human(1536) == "1.5 KiB")
        #expect(ByteFormatter.human(1 << 30) == "1.0 GiB")
    }
}
