import Foundation
import Int8Kernels
import JSON
import ModelFormats
import QuantCore
import QuantTesting

/// `quant-bench pipeline`: quantizes a generated F32 model (1 GiB by default, one tensor of 256 MiB)
/// with `quantctl quantize` in a child process, under `/usr/bin/time -v` for its peak RSS, and
/// compares with, in the same run: the kernels alone on the same tensors, the I/O floor (reading the
/// model and writing an output of the artifact's size, nothing else), and the PyPI `gguf` package's
/// `quants.quantize` doing Q8_0.
public struct PipelineBenchmark {
    public let sizeMiB: Int
    public let directory: String
    public let quantctl: String
    public let python: String?
    public let threads: Int

    public init(sizeMiB: Int, directory: String, quantctl: String, python: String?, threads: Int) {
        self.sizeMiB = sizeMiB
        self.directory = directory
        self.quantctl = quantctl
        self.python = python
        self.threads = threads
    }

    public struct Row: Sendable {
        public var preset: String
        public var seconds: Double
        public var kernelSeconds: Double
        public var peakRSSMiB: Double
        public var gbps: Double { 0 }
    }

    public func run(progress: (String) -> Void) throws -> String {
        let model = (directory as NSString).appendingPathComponent("bench-model.safetensors")
        progress("writing a \(sizeMiB) MiB model to \(model)")
        let shapes = try writeModel(model)
        defer { try? FileManager.default.removeItem(atPath: model) }
        let bytes = Double(shapes.reduce(0) { $0 + $1.1.reduce(1, *) } * 4)
        var rows: [(String, Double, Double, Double, Double)] = []
        for preset in ["int8", "q4_0", "q8_0"] {
            for fsync in [true, false] {
                progress("quantctl quantize --preset \(preset)\(fsync ? "" : " --no-fsync")")
                let output = (directory as NSString).appendingPathComponent("bench-out-\(preset)")
                defer { try? FileManager.default.removeItem(atPath: output) }
                var runs: [(Double, Double)] = []
                for _ in 0..<3 {
                    try? FileManager.default.removeItem(atPath: output)
                    runs.append(
                        try timed(
                            [quantctl, "quantize", model, "-o", output, "--preset", preset, "--threads", String(threads)]
                                + (fsync ? [] : ["--no-fsync"])))
                }
                let seconds = runs.map(\.0).sorted()[1]
                let rss = runs.map(\.1).max()!
                progress("kernels only, \(preset)")
                let kernelSeconds = try kernelOnly(model: model, preset: preset)
                let outputBytes =
                    ((try? FileManager.default.attributesOfItem(atPath: output))?[.size] as? NSNumber)?.intValue ?? 0
                progress("I/O floor, \(outputBytes >> 20) MiB out")
                let floorSeconds = try ioFloor(model: model, outputBytes: outputBytes, output: output + ".floor", fsync: fsync)
                rows.append((preset + (fsync ? "" : " (no fsync)"), seconds, kernelSeconds, rss, floorSeconds))
            }
        }
        var pythonSeconds: Double?
        if let python {
            progress("gguf-py quants.quantize Q8_0")
            pythonSeconds = try ggufPy(python: python, model: model)
        }
        var table =
            "pipeline: \(sizeMiB) MiB F32 model, \(shapes.count) tensors (largest \(shapes.map { ($0.1.reduce(1, *) * 4) >> 20 }.max()!) MiB), \(threads) threads\n"
        table += "median of 3 runs of `quantctl quantize` (process start, header, writes and fsync included)\n"
        table += "I/O floor: read the model, write an output of the artifact's size (fsync'd when the run is), one thread\n"
        table +=
            "preset   end-to-end s   GB/s   kernels-only s   GB/s   e2e/kernels   I/O floor s   e2e/(floor+kernels)   peak RSS MiB\n"
        var json: [JSONValue] = []
        for (preset, seconds, kernelSeconds, rss, floorSeconds) in rows {
            let ratio = kernelSeconds / seconds
            let floorRatio = (floorSeconds + kernelSeconds) / seconds
            table +=
                preset.padding(toLength: 20, withPad: " ", startingAt: 0)
                + String(
                    format: " %13.2f %6.2f %16.2f %6.2f %13.2f %13.2f %21.2f %14.1f\n", seconds, bytes / seconds / 1e9,
                    kernelSeconds, bytes / kernelSeconds / 1e9,
                    ratio, floorSeconds, floorRatio, rss)
            json.append(
                .object(
                    JSONObject([
                        ("run", .string(preset)), ("seconds", .number(seconds, decimals: 3)),
                        ("gbps", .number(bytes / seconds / 1e9, decimals: 3)),
                        ("kernel_seconds", .number(kernelSeconds, decimals: 3)),
                        ("kernel_gbps", .number(bytes / kernelSeconds / 1e9, decimals: 3)),
                        ("ratio_to_kernels", .number(ratio, decimals: 3)),
                        ("io_floor_seconds", .number(floorSeconds, decimals: 3)),
                        ("ratio_to_floor_and_kernels", .number(floorRatio, decimals: 3)),
                        ("peak_rss_mib", .number(rss, decimals: 1)),
                    ])))
        }
        var pythonJSON = JSONValue.null
        if let pythonSeconds, let q8 = rows.first(where: { $0.0 == "q8_0" }) {
            table += String(
                format:
                    "gguf-py quants.quantize Q8_0 (quantize calls only): %.2f s (%.2f GB/s); our Q8_0 kernels are %.1fx faster, quantctl end-to-end %.1fx\n",
                pythonSeconds, bytes / pythonSeconds / 1e9, pythonSeconds / q8.2, pythonSeconds / q8.1)
            pythonJSON = .object(
                JSONObject([
                    ("seconds", .number(pythonSeconds, decimals: 3)), ("gbps", .number(bytes / pythonSeconds / 1e9, decimals: 3)),
                    ("kernel_speedup_q8_0", .number(pythonSeconds / q8.2, decimals: 2)),
                    ("end_to_end_speedup_q8_0", .number(pythonSeconds / q8.1, decimals: 2)),
                ]))
        }
        let document = JSONObject([("size_mib", .integer(sizeMiB)), ("results", .array(json)), ("gguf_py", pythonJSON)])
        return table + "JSON " + JSONValue.object(document).serialized + "\n"
    }

    /// One 256 MiB tensor (or a quarter of the model when smaller), the rest in 32 MiB tensors.
    func writeModel(_ path: String) throws -> [(String, [Int])] {
        let total = sizeMiB << 20
        let big = Swift.min(256 << 20, total / 4)
        var shapes: [(String, [Int])] = [("big.weight", [big / 4096, 1024])]
        var left = total - big
        var index = 0
        while left > 0 {
            let size = Swift.min(32 << 20, left)
            shapes.append(("layers.\(index).weight", [size / 4096, 1024]))
            left -= size
            index += 1
        }
        try writeSyntheticSafetensors(path, tensors: shapes, dtype: .f32, seed: 11, divisor: 5000)
        return shapes
    }

    /// The kernels alone on the same tensors: the file's pages are in the cache from the runs
    /// before, codes go to a reused buffer, nothing is written or measured.
    func kernelOnly(model: String, preset: String) throws -> Double {
        let file = try SafetensorsFile(path: model)
        let kernels = Kernels.best
        let largest = file.tensors.map(\.byteCount).max() ?? 0
        let out = LargeBuffer<UInt8>(count: largest / 4 * 34 / 32 + 64, fill: 0)
        let scheme = try LinearScheme(bits: 8, symmetric: true, granularity: .channel(axis: 0))
        let threads = threads
        return try medianSeconds(repeats: 3) {
            for info in file.tensors {
                let x = file.bytes(of: info).bindMemory(to: Float.self)
                switch preset {
                case "int8":
                    _ = try LinearQuantizer(scheme: scheme, kernels: kernels, threads: threads).quantize(
                        x, shape: info.shape, into: out.buffer)
                default:
                    let format = GGMLType.named(preset)!
                    let cols = info.shape.last!
                    let rows = info.shape.reduce(1, *) / cols
                    let source = UncheckedPointer(x)
                    let target = UncheckedPointer(out.pointer)
                    Parallel.rows(rows, threads: threads, grain: 16) { r in
                        try? kernels.quantizeBlocks(
                            format, UnsafeBufferPointer(rebasing: source.value[(r.lowerBound * cols)..<(r.upperBound * cols)]),
                            into: UnsafeMutableRawBufferPointer(
                                start: target.value + format.blockBytes(elements: r.lowerBound * cols),
                                count: format.blockBytes(elements: r.count * cols)))
                    }
                }
            }
        }
    }

    /// The least any run must do with the files: read the whole model (from the page cache, where
    /// the runs before left it) and write `outputBytes` to a new file, fsync'd when the run is; 8 MiB
    /// read() and write() calls on one thread, nothing computed. Median of 3.
    func ioFloor(model: String, outputBytes: Int, output: String, fsync: Bool) throws -> Double {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 << 20, alignment: 4096)
        defer {
            buffer.deallocate()
            try? FileManager.default.removeItem(atPath: output)
        }
        memset(buffer.baseAddress!, 1, buffer.count)
        return try medianSeconds(repeats: 3) {
            try? FileManager.default.removeItem(atPath: output)
            let input = open(model, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { throw BenchmarkError("cannot open \(model)") }
            defer { close(input) }
            while read(input, buffer.baseAddress, buffer.count) > 0 {}
            let out = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard out >= 0 else { throw BenchmarkError("cannot create \(output)") }
            defer { close(out) }
            var left = outputBytes
            while left > 0 {
                let written = write(out, buffer.baseAddress, Swift.min(left, buffer.count))
                guard written > 0 else { throw BenchmarkError("write to \(output) failed") }
                left -= written
            }
            if fsync { _ = Glibc.fsync(out) }
        }
    }

    /// Runs a command under /usr/bin/time -v; returns wall seconds and peak RSS in MiB.
    func timed(_ command: [String]) throws -> (Double, Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
        process.arguments = ["-v"] + command
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw BenchmarkError("\(command.joined(separator: " ")) failed: \(text.suffix(500))")
        }
        let line = text.split(separator: "\n").first { $0.contains("Maximum resident set size") } ?? ""
        let kib = Double(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
        return (seconds, kib / 1024)
    }

    func ggufPy(python: String, model: String) throws -> Double {
        let script = """
            import sys, time, gguf
            from safetensors import safe_open
            total = 0.0
            with safe_open(sys.argv[1], framework="np") as f:
                for name in f.keys():
                    x = f.get_tensor(name)
                    t = time.perf_counter()
                    gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0)
                    total += time.perf_counter() - t
            print(total)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, model]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let seconds = Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw BenchmarkError("the gguf-py baseline failed (is \(python) a Python with gguf and safetensors?)")
        }
        return seconds
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
