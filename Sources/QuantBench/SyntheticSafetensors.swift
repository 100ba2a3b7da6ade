import ModelFormats
import QuantTesting

/// The generated weights the benchmarks quantize: a safetensors file of `tensors` (name, shape)
/// holding k / `divisor` for k uniform in -10000 ... 10000 from a generator seeded with `seed`, as
/// F32 or as BF16 (the F32 value's upper half). Streamed in chunks of 1M values; durable on return, so
/// its writeback does not compete with the first timed run's fsync.
func writeSyntheticSafetensors(
    _ path: String, tensors: [(String, [Int])], dtype: DType, seed: UInt64, divisor: Float
) throws {
    precondition(dtype == .f32 || dtype == .bf16, "synthetic weights are F32 or BF16")
    let writer = try SafetensorsWriter(path: path, tensors: tensors.map { TensorSpec(name: $0.0, dtype: dtype, shape: $0.1) })
    var rng = SplitMix64(seed: seed)
    var chunk = [Float](repeating: 0, count: 1 << 20)
    var halves = [UInt16](repeating: 0, count: dtype == .bf16 ? chunk.count : 0)
    for (_, shape) in tensors {
        var remaining = shape.reduce(1, *)
        while remaining > 0 {
            let n = Swift.min(remaining, chunk.count)
            for i in 0..<n { chunk[i] = Float(Int(rng.next() % 20001) - 10000) / divisor }
            if dtype == .bf16 {
                for i in 0..<n { halves[i] = UInt16(truncatingIfNeeded: chunk[i].bitPattern >> 16) }
                try halves.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<(n * 2)])) }
            } else {
                try chunk.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<(n * 4)])) }
            }
            remaining -= n
        }
    }
    try writer.finish(sync: true)
}
