import CInt8Kernels
import COpenBLAS
import Foundation
import Int8Kernels
import ModelFormats
import QuantCore
import QuantTesting

/// `quant-bench kernels`: the kernels on a 4096 x 4096 fp32 matrix (64 MiB), with a memcpy of the
/// same buffer and a register-only int8 loop measured in the same run as baselines.
///
/// `gbps` counts the bytes of the fp32 side of each kernel (the input of quantizers, the output of
/// dequantization and conversions), so every streaming row compares with copying the same 64 MiB.
public struct KernelBenchmark {
    public let threadCounts: [Int]
    public let repeats: Int
    public let size = 4096

    public init(threads: Int, repeats: Int) {
        threadCounts = threads > 1 ? [1, threads] : [1]
        self.repeats = repeats
    }

    public func run(progress: (String) -> Void = { _ in }) throws -> KernelReport {
        let kernels = Kernels.best
        let count = size * size
        let bytes = Double(count * 4)
        let x = LargeBuffer<Float>(count: count, fill: 0)
        var rng = SplitMix64(seed: 2026)
        for i in 0..<count { x.pointer[i] = Float(Int(rng.next() % 2_000_001) - 1_000_000) / 250_000 }
        let copy = LargeBuffer<Float>(count: count, fill: 0)
        let codes = LargeBuffer<UInt8>(count: count, fill: 0)
        let output = LargeBuffer<Float>(count: count, fill: 0)
        // Q8_0 is 34 bytes per 32 values: larger than one byte per value.
        let blocks = LargeBuffer<UInt8>(count: GGMLType.q8_0.blockBytes(elements: count), fill: 0)

        progress("memcpy")
        let memcpySeconds = medianSeconds(repeats: repeats) { memcpy(copy.pointer, x.pointer, count * 4) }
        let memcpyGBps = bytes / memcpySeconds / 1e9
        progress("int8 peak")
        var sink: Int32 = 0
        var peakOps = 0.0
        let peakSeconds = medianSeconds(repeats: repeats) { peakOps = qk_int8_peak(20_000_000, kernels.isa.rawValue, &sink) }
        let peakGOPS = peakOps / peakSeconds / 1e9
        progress("gemm peak")
        var gemmPeakOps = 0.0
        let gemmPeakSeconds = medianSeconds(repeats: repeats) {
            gemmPeakOps = qk_gemm_peak(20_000_000, kernels.isa.rawValue, &sink)
        }
        let gemmPeakGOPS = gemmPeakOps / gemmPeakSeconds / 1e9

        var results: [BenchmarkResult] = []
        func stream(_ name: String, threads: Int, _ body: () throws -> Void) rethrows {
            progress("\(name) x\(threads)")
            let seconds = try medianSeconds(repeats: repeats, body)
            let gbps = bytes / seconds / 1e9
            results.append(
                BenchmarkResult(
                    name: name, threads: threads, value: gbps, unit: "GB/s", ratio: gbps / memcpyGBps, baseline: "memcpy"))
        }

        for threads in threadCounts {
            if threads > 1 {
                try stream("memcpy", threads: threads) {
                    let source = UncheckedPointer(x.pointer)
                    let target = UncheckedPointer(copy.pointer)
                    Parallel.rows(count, threads: threads, grain: 1 << 16) { r in
                        memcpy(target.value + r.lowerBound, source.value + r.lowerBound, r.count * 4)
                    }
                }
            }
            let int8 = LinearQuantizer(
                scheme: try LinearScheme(bits: 8, symmetric: true, granularity: .channel(axis: 0)), kernels: kernels,
                threads: threads)
            try stream("quantize_int8_channel", threads: threads) {
                _ = try int8.quantize(x.readOnly, shape: [size, size], into: codes.buffer)
            }
            let parameters = try int8.quantize(x.readOnly, shape: [size, size], into: codes.buffer)
            try stream("dequantize_int8_channel", threads: threads) {
                let source = UncheckedPointer(codes.pointer)
                let target = UncheckedPointer(output.pointer)
                let size = size
                try parameters.scales.withUnsafeBufferPointer { scales in
                    let s = UncheckedPointer(scales.baseAddress!)
                    Parallel.rows(size, threads: threads, grain: 16) { r in
                        try? kernels.dequantize(
                            UnsafeBufferPointer(start: source.value + r.lowerBound * size, count: r.count * size), signed: true,
                            rows: r.count,
                            cols: size, group: size, scales: UnsafeBufferPointer(start: s.value + r.lowerBound, count: r.count),
                            zeroPoints: nil,
                            into: UnsafeMutableBufferPointer(start: target.value + r.lowerBound * size, count: r.count * size))
                    }
                }
            }
            let int4 = LinearQuantizer(
                scheme: try LinearScheme(bits: 4, symmetric: true, granularity: .group(size: 128)), kernels: kernels,
                threads: threads)
            try stream("quantize_int4_group128", threads: threads) {
                _ = try int4.quantizePacked(x.readOnly, shape: [size, size], into: codes.buffer)
            }
            for (name, format) in [("quantize_q8_0", GGMLType.q8_0), ("quantize_q4_0", .q4_0)] {
                stream(name, threads: threads) {
                    let source = UncheckedPointer(x.pointer)
                    let target = UncheckedPointer(blocks.pointer)
                    let size = size
                    Parallel.rows(size, threads: threads, grain: 16) { r in
                        try? kernels.quantizeBlocks(
                            format, UnsafeBufferPointer(start: source.value + r.lowerBound * size, count: r.count * size),
                            into: UnsafeMutableRawBufferPointer(
                                start: target.value + format.byteCount(elements: r.lowerBound * size),
                                count: format.byteCount(elements: r.count * size)))
                    }
                }
            }
            if threads == 1 {
                // The range of each column (per-channel scales on the last axis), a read-only pass.
                try stream("column_ranges", threads: 1) { _ = try kernels.columnMinMax(x.readOnly, rows: size, cols: size) }
                // K-quant dequantizers (the fp32 side counted), from blocks quantized once, untimed.
                for format in [GGMLType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K] {
                    var packed = [UInt8](repeating: 0, count: format.blockBytes(elements: count))
                    try packed.withUnsafeMutableBytes { try kernels.quantizeBlocks(format, x.readOnly, into: $0) }
                    try stream("dequantize_\(format.name)", threads: 1) {
                        try packed.withUnsafeBytes { try kernels.dequantizeBlocks(format, $0, into: output.buffer) }
                    }
                }
            }
            if threads == 1 {
                // The scalar reference is a line-by-line port of ggml's quantize_row_*_ref, the path
                // llama.cpp's quantize tool takes: measured here as that baseline.
                for (name, format) in [("quantize_q8_0", GGMLType.q8_0), ("quantize_q4_0", .q4_0)] {
                    progress("\(name) reference")
                    let seconds = try medianSeconds(repeats: Swift.max(1, repeats / 2)) {
                        try Kernels.scalar.quantizeBlocks(format, x.readOnly, into: UnsafeMutableRawBufferPointer(blocks.buffer))
                    }
                    let reference = bytes / seconds / 1e9
                    let fast = results.last { $0.name == name && $0.threads == 1 }!.value
                    results.append(
                        BenchmarkResult(
                            name: "\(name)_ggml_reference", threads: 1, value: reference, unit: "GB/s",
                            ratio: reference / memcpyGBps, baseline: "memcpy"))
                    results.append(
                        BenchmarkResult(
                            name: "\(name)_speedup_vs_reference", threads: 1, value: fast / reference, unit: "x",
                            ratio: fast / reference, baseline: "ggml reference"))
                }
            }
            try stream("fp16_to_fp32", threads: threads) {
                let source = UncheckedPointer(UnsafeMutableRawPointer(codes.pointer))
                let target = UncheckedPointer(output.pointer)
                Parallel.rows(count, threads: threads, grain: 1 << 16) { r in
                    try? kernels.convertToFloat(
                        .fp16, UnsafeRawBufferPointer(start: source.value + r.lowerBound * 2, count: r.count * 2),
                        into: UnsafeMutableBufferPointer(start: target.value + r.lowerBound, count: r.count))
                }
            }
            // 1024³, and a layer of 4096 x 4096 weights on a batch of 512 rows.
            for (name, m, n, k) in [("1024", 1024, 1024, 1024), ("4096x4096x512", 512, 4096, 4096)] {
                results += try gemm(
                    name, m: m, n: n, k: k, threads: threads, kernels: kernels, gemmPeakGOPS: gemmPeakGOPS, rng: &rng,
                    progress: progress)
            }
        }
        return KernelReport(
            memcpyGBps: memcpyGBps, int8PeakGOPS: peakGOPS, gemmPeakGOPS: gemmPeakGOPS,
            blas: String(cString: openblas_get_corename()),
            isa: kernels.isa.description, results: results)
    }
}

struct UncheckedPointer<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }

}
