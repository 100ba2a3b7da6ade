import Int8Kernels
import JSON
import ModelFormats

/// Any artifact (ours, or a GGUF file) back to fp32 safetensors, streamed tensor by tensor.
public enum Dequantizer {
    /// What one output tensor is made from.
    enum Source {
        /// `superScale`: two-level scales, where `scale` holds U8 integers and each row's F32 super-scale multiplies them.
        case linear(
            codes: SourceTensor, scale: SourceTensor, zeroPoint: SourceTensor?, scheme: LinearScheme, shape: [Int],
            superScale: SourceTensor? = nil)
        case blocks(SourceTensor, GGMLType)
        case float(SourceTensor)
        case copy(SourceTensor, DType)
        /// 1-bit codes (1 = +1, 0 = -1) times a scale per output channel.
        case binary(codes: SourceTensor, scale: SourceTensor, shape: [Int])
        /// fp8 codes times an F32 scale per tensor or per output channel.
        case scaledFloat(codes: SourceTensor, scale: SourceTensor, element: FloatElement, perChannel: Bool, shape: [Int])
        /// MX element codes times one E8M0 scale per block of 32 along each row.
        case mx(codes: SourceTensor, scales: SourceTensor, element: MXElement, shape: [Int])
        /// Codebook indices and F32 codebooks (one per tensor or per output channel).
        case kmeans(codes: SourceTensor, codebook: SourceTensor, bits: Int, perChannel: Bool, shape: [Int])
        /// compressed-tensors pack-quantized: int32 rows of codes + 2^(bits-1), a scale per row or group.
        case packQuantized(packed: SourceTensor, scale: SourceTensor, bits: Int, groupSize: Int?, shape: [Int])
    }

    /// Returns the number of tensors written.
    @discardableResult
    public static func run(input: String, output: String, kernels: Kernels = .best) throws -> Int {
        let source = try SourceModel(path: input)
        let (items, metadata) = try plan(source)
        let specs = items.map { name, item -> TensorSpec in
            switch item {
            case .linear(_, _, _, _, let shape, _): TensorSpec(name: name, dtype: .f32, shape: shape)
            case .blocks(let t, _), .float(let t): TensorSpec(name: name, dtype: .f32, shape: t.shape)
            case .copy(let t, let dtype): TensorSpec(name: name, dtype: dtype, shape: t.shape)
            case .binary(_, _, let shape), .scaledFloat(_, _, _, _, let shape), .mx(_, _, _, let shape),
                .kmeans(_, _, _, _, let shape),
                .packQuantized(_, _, _, _, let shape):
                TensorSpec(name: name, dtype: .f32, shape: shape)
            }
        }
        let temporary = output + ".partial"
        let writer = try SafetensorsWriter(path: temporary, tensors: specs, metadata: metadata)
        do {
            let scratch = ScratchBuffer<Float>(fill: 0)
            for (_, item) in items { try write(item, source: source, writer: writer, kernels: kernels, scratch: scratch) }
            try writer.finish(sync: true)
            try renameReplacing(temporary, output)
        } catch {
            try? removeFile(temporary)
            throw error
        }
        return items.count
    }

    static func plan(_ source: SourceModel) throws -> ([(String, Source)], [(key: String, value: String)]) {
        var byName: [String: SourceTensor] = [:]
        for tensor in source.tensors { byName[tensor.name] = tensor }
        var items: [(String, Source)] = []
        var metadata: [(key: String, value: String)] = []
        var consumed = Set<String>()
        var quantized: [String: JSONObject] = [:]
        if case .safetensors(let file) = source.model {
            metadata = file.metadata.filter { $0.key != "quantization" }
            if let text = file.metadata.first(where: { $0.key == "quantization" })?.value {
                guard let info = try? StrictJSON.parse(text).objectValue, info["format"]?.stringValue == Pipeline.artifactFormat,
                    let tensors = info["tensors"]?.objectValue
                else {
                    throw PipelineError.unsupported(
                        "__metadata__", "\"quantization\" is not a \(Pipeline.artifactFormat) description")
                }
                for (name, value) in tensors.entries {
                    guard let entry = value.objectValue else {
                        throw PipelineError.unsupported(name, "malformed quantization entry")
                    }
                    quantized[name] = entry
                    if ["linear", "ternary", "binary", "mx"].contains(entry["method"]?.stringValue ?? "")
                        || entry["format"] != nil
                    {
                        consumed.insert(name + ".scale")
                        consumed.insert(name + ".zero_point")
                        consumed.insert(name + ".super_scale")
                    }
                    if entry["method"]?.stringValue == "kmeans" { consumed.insert(name + ".codebook") }
                    if entry["method"]?.stringValue == "compressed-tensors", name.hasSuffix("weight") {
                        for suffix in ["_packed", "_scale", "_shape"] { consumed.insert(name + suffix) }
                        items.append((name, try packQuantizedSource(name, entry: entry, byName: byName)))
                    }
                }
            }
        }
        for tensor in source.tensors where !consumed.contains(tensor.name) {
            if let entry = quantized[tensor.name], ["linear", "ternary"].contains(entry["method"]?.stringValue ?? "") {
                // Ternary codes are 2-bit symmetric codes with a per-channel scale: linear arithmetic.
                items.append((tensor.name, try linearSource(tensor, entry: entry, byName: byName)))
                continue
            }
            if let entry = quantized[tensor.name], entry["method"]?.stringValue == "binary" {
                guard let shape = entry["shape"]?.arrayValue?.compactMap(\.intValue), shape.count >= 2,
                    shape.allSatisfy({ $0 >= 0 }),
                    let scale = byName[tensor.name + ".scale"], scale.elementCount == shape[0], scale.floatDType != nil
                else {
                    throw PipelineError.unsupported(
                        tensor.name, "binary entry without a valid shape or '.scale' of one value per channel")
                }
                let last = shape.last!
                let rows = last == 0 ? 0 : shape.reduce(1, *) / last
                guard tensor.byteRange.count == rows * Kernels.packedRowBytes(cols: last, bits: 1) else {
                    throw PipelineError.unsupported(
                        tensor.name,
                        "binary codes hold \(tensor.byteRange.count) bytes, shape \(shape) needs \(rows * Kernels.packedRowBytes(cols: last, bits: 1))"
                    )
                }
                items.append((tensor.name, .binary(codes: tensor, scale: scale, shape: shape)))
                continue
            }
            if let entry = quantized[tensor.name], entry["method"]?.stringValue == "kmeans" {
                items.append((tensor.name, try kmeansSource(tensor, entry: entry, byName: byName)))
                continue
            }
            if let entry = quantized[tensor.name], let format = entry["format"]?.stringValue {
                items.append((tensor.name, try minifloatSource(tensor, entry: entry, format: format, byName: byName)))
                continue
            }
            switch tensor.storage {
            case .gguf(let type):
                if type.isBlockQuantized {
                    items.append((tensor.name, .blocks(tensor, type)))
                } else if tensor.floatDType != nil {
                    items.append((tensor.name, .float(tensor)))
                } else if let dtype = [GGMLType.i8: DType.i8, .i16: .i16, .i32: .i32, .i64: .i64][type] {
                    items.append((tensor.name, .copy(tensor, dtype)))
                } else {
                    throw PipelineError.unsupported(
                        tensor.name,
                        "cannot dequantize ggml type \(type.name) (supported: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, MXFP4, IQ4_NL, F16, BF16, F32)"
                    )
                }
            case .safetensors(let dtype):
                items.append((tensor.name, tensor.floatDType != nil ? .float(tensor) : .copy(tensor, dtype)))
            case .generated:
                items.append((tensor.name, .float(tensor)))
            }
        }
        return (items, metadata)
    }

    /// A compressed-tensors entry for `name` ("X.weight"), read from X.weight_packed / _scale.
    static func packQuantizedSource(_ name: String, entry: JSONObject, byName: [String: SourceTensor]) throws -> Source {
        guard let shape = entry["shape"]?.arrayValue?.compactMap(\.intValue), shape.count == 2, shape.allSatisfy({ $0 >= 0 }),
            let bits = entry["bits"]?.intValue, [4, 8].contains(bits),
            let packed = byName[name + "_packed"], let scale = byName[name + "_scale"]
        else {
            throw PipelineError.unsupported(
                name, "its compressed-tensors entry lacks shape or bits, or \(name)_packed / _scale is missing")
        }
        let groupSize = entry["group_size"]?.intValue
        if let groupSize, groupSize <= 0 { throw PipelineError.unsupported(name, "bad group_size") }
        let words = (shape[1] * bits + 31) / 32
        let columns = groupSize.map { (shape[1] + $0 - 1) / $0 } ?? 1
        guard packed.storage == .safetensors(.i32), packed.elementCount == shape[0] * words,
            scale.floatDType != nil, scale.elementCount == shape[0] * columns
        else { throw PipelineError.unsupported(name, "compressed-tensors packed codes or scales do not match shape \(shape)") }
        return .packQuantized(packed: packed, scale: scale, bits: bits, groupSize: groupSize, shape: shape)
    }

    /// A `kmeans` entry, with every stored size checked.
    static func kmeansSource(_ codes: SourceTensor, entry: JSONObject, byName: [String: SourceTensor]) throws -> Source {
        let name = codes.name
        guard let shape = entry["shape"]?.arrayValue?.compactMap(\.intValue), !shape.isEmpty, shape.allSatisfy({ $0 >= 0 }),
            let bits = entry["bits"]?.intValue, (2...8).contains(bits), let codebook = byName[name + ".codebook"]
        else { throw PipelineError.unsupported(name, "its kmeans entry lacks a shape or bits, or '\(name).codebook' is missing") }
        let perChannel = entry["granularity"]?.stringValue == "channel"
        let last = Swift.max(shape.last ?? 1, 1)
        let rows = shape.reduce(1, *) / last
        let rowBytes = bits == 8 ? last : Kernels.packedRowBytes(cols: last, bits: bits)
        guard codes.storage == .safetensors(.u8), codes.byteRange.count == rows * rowBytes, shape.count >= (perChannel ? 2 : 1),
            codebook.storage == .safetensors(.f32), codebook.elementCount == (perChannel ? shape[0] : 1) << bits
        else { throw PipelineError.unsupported(name, "kmeans codes or codebook do not match shape \(shape) at \(bits) bits") }
        return .kmeans(codes: codes, codebook: codebook, bits: bits, perChannel: perChannel, shape: shape)
    }

    /// `method: float` (fp8 + scale) and `method: mx` entries, with every stored size checked.
    static func minifloatSource(_ codes: SourceTensor, entry: JSONObject, format: String, byName: [String: SourceTensor]) throws
        -> Source
    {
        let name = codes.name
        guard let shape = entry["shape"]?.arrayValue?.compactMap(\.intValue), !shape.isEmpty, shape.allSatisfy({ $0 >= 0 }),
            let scale = byName[name + ".scale"]
        else { throw PipelineError.unsupported(name, "its \(format) entry lacks a shape or '\(name).scale' is missing") }
        let count = shape.reduce(1, *)
        let last = Swift.max(shape.last ?? 1, 1)
        let rows = count / last
        if let element = FloatElement(rawValue: format) {
            let perChannel = entry["granularity"]?.stringValue == "channel"
            guard codes.storage == .safetensors(element.dtype), codes.byteRange.count == count,
                shape.count >= (perChannel ? 2 : 1),
                scale.storage == .safetensors(.f32), scale.elementCount == (perChannel ? shape[0] : 1)
            else { throw PipelineError.unsupported(name, "\(format) codes or scales do not match shape \(shape)") }
            return .scaledFloat(codes: codes, scale: scale, element: element, perChannel: perChannel, shape: shape)
        }
        guard let element = MXElement(rawValue: format) else { throw PipelineError.unsupported(name, "unknown format \(format)") }
        let stride = element.bits == 8 ? last : Kernels.packedRowBytes(cols: last, bits: element.bits)
        let blocks = (last + MXElement.blockSize - 1) / MXElement.blockSize
        guard codes.storage == .safetensors(element.codeDType), codes.byteRange.count == rows * stride,
            scale.storage == .safetensors(.f8E8M0), scale.elementCount == rows * blocks
        else { throw PipelineError.unsupported(name, "\(format) codes or scales do not match shape \(shape)") }
        return .mx(codes: codes, scales: scale, element: element, shape: shape)
    }

    static func linearSource(_ codes: SourceTensor, entry: JSONObject, byName: [String: SourceTensor]) throws -> Source {
        let name = codes.name
        guard let bits = entry["bits"]?.intValue, let symmetric = entry["symmetric"]?.boolValue,
            let granularityName = entry["granularity"]?.stringValue,
            let shape = entry["shape"]?.arrayValue?.compactMap(\.intValue), shape.allSatisfy({ $0 >= 0 })
        else { throw PipelineError.unsupported(name, "its quantization entry lacks bits, symmetric, granularity or shape") }
        let granularity: Granularity
        switch granularityName {
        case "tensor": granularity = .tensor
        case "channel":
            guard let axis = entry["axis"]?.intValue, shape.indices.contains(axis) else {
                throw PipelineError.unsupported(name, "bad channel axis")
            }
            granularity = .channel(axis: axis)
        case "group":
            guard let size = entry["group_size"]?.intValue, size > 0 else {
                throw PipelineError.unsupported(name, "bad group_size")
            }
            granularity = .group(size: size)
        default: throw PipelineError.unsupported(name, "unknown granularity \(granularityName)")
        }
        let scheme: LinearScheme
        do { scheme = try LinearScheme(bits: bits, symmetric: symmetric, granularity: granularity) } catch {
            throw PipelineError.unsupported(name, "\(error)")
        }
        guard let scale = byName[name + ".scale"] else {
            throw PipelineError.unsupported(name, "its scale tensor '\(name).scale' is missing")
        }
        let zeroPoint = byName[name + ".zero_point"]
        if !symmetric && zeroPoint == nil {
            throw PipelineError.unsupported(name, "asymmetric, but '\(name).zero_point' is missing")
        }
        // The stored shapes must be exactly what the format says, or reading would go out of bounds.
        let count = shape.reduce(1, *)
        let last = shape.last ?? 1
        let rows = last == 0 ? 0 : count / last
        let expectedCodes = bits == 8 ? count : rows * Kernels.packedRowBytes(cols: last, bits: bits)
        guard codes.byteRange.count == expectedCodes,
            codes.storage == .safetensors(bits == 8 ? (symmetric ? .i8 : .u8) : .u8)
                || (bits == 8 && codes.storage == .safetensors(.u8))
        else {
            throw PipelineError.unsupported(
                name,
                "codes hold \(codes.byteRange.count) bytes of \(codes.dtypeName); shape \(shape) at \(bits) bits needs \(expectedCodes)"
            )
        }
        let scaleCount: Int
        switch granularity {
        case .tensor: scaleCount = 1
        case .channel(let axis): scaleCount = shape[axis]
        case .group(let size): scaleCount = rows * ((last + size - 1) / size)
        }
        let twoLevel = entry["scale_bits"] != nil
        guard twoLevel ? scale.storage == .safetensors(.u8) : scale.floatDType != nil, scale.elementCount == scaleCount else {
            throw PipelineError.unsupported(
                name, "'\(name).scale' has \(scale.elementCount) values of \(scale.dtypeName), \(scaleCount) expected")
        }
        let superScale = byName[name + ".super_scale"]
        if twoLevel {
            guard case .group = granularity, let superScale, superScale.storage == .safetensors(.f32),
                superScale.elementCount == rows
            else {
                throw PipelineError.unsupported(
                    name, "two-level scales need '\(name).super_scale', F32 with \(rows) values (one per row)")
            }
        }
        if let zeroPoint, zeroPoint.elementCount != scaleCount || zeroPoint.storage != .safetensors(.u8) {
            throw PipelineError.unsupported(name, "'\(name).zero_point' must be U8 with \(scaleCount) values")
        }
        return .linear(
            codes: codes, scale: scale, zeroPoint: zeroPoint, scheme: scheme, shape: shape,
            superScale: twoLevel ? superScale : nil)
    }

    static func write(
        _ item: Source, source: SourceModel, writer: some DequantizedSink, kernels: Kernels, scratch: ScratchBuffer<Float>
    ) throws {
        let chunk = 1 << 20
        switch item {
        case .copy(let tensor, _):
            try writer.write(source.bytes(of: tensor))
        case .float(let tensor):
            var start = 0
            while start < tensor.elementCount {
                let end = Swift.min(tensor.elementCount, start + chunk)
                try writer.write(
                    UnsafeRawBufferPointer(try source.floats(of: tensor, start..<end, scratch: scratch, kernels: kernels)))
                source.release(tensor, elements: start..<end)
                start = end
            }
        case .blocks(let tensor, let format):
            let bytes = source.bytes(of: tensor)
            var start = 0
            let step = chunk / format.blockSize * format.blockSize
            while start < tensor.elementCount {
                let end = Swift.min(tensor.elementCount, start + step)
                let out = scratch.take(end - start)
                try kernels.dequantizeBlocks(
                    format,
                    UnsafeRawBufferPointer(rebasing: bytes[format.byteCount(elements: start)..<format.byteCount(elements: end)]),
                    into: out)
                try writer.write(UnsafeRawBufferPointer(out))
                start = end
            }
        case .binary(let codes, let scaleTensor, let shape):
            let scales = try allFloats(of: scaleTensor, source: source, kernels: kernels)
            let last = shape.last!
            let rows = last == 0 ? 0 : shape.reduce(1, *) / last
            let rowsPerChannel = shape[0] == 0 ? 0 : rows / shape[0]
            try decodeRows(source.bytes(of: codes), rows: rows, cols: last, bits: 1, kernels: kernels, writer: writer) {
                row, codes, out in
                let scale = scales[row / Swift.max(rowsPerChannel, 1)]
                for i in out.indices { out[i] = codes[i] == 1 ? scale : -scale }
            }
        case .scaledFloat(let codes, let scaleTensor, let element, let perChannel, let shape):
            let scales = try allFloats(of: scaleTensor, source: source, kernels: kernels)
            let bytes = source.bytes(of: codes).bindMemory(to: UInt8.self)
            let last = Swift.max(shape.last ?? 1, 1)
            let rows = shape.reduce(1, *) / last
            let rowsPerChannel = perChannel && shape[0] > 0 ? rows / shape[0] : Swift.max(rows, 1)
            let table = (0..<256).map { element.format.decode(UInt32($0)) }
            var out = [Float](repeating: 0, count: last)
            for row in 0..<rows {
                let scale = scales[perChannel ? row / Swift.max(rowsPerChannel, 1) : 0]
                for i in 0..<last { out[i] = table[Int(bytes[row * last + i])] * scale }
                try out.withUnsafeBytes { try writer.write($0) }
            }
        case .packQuantized(let packedTensor, let scaleTensor, let bits, let groupSize, let shape):
            let scales = try allFloats(of: scaleTensor, source: source, kernels: kernels)
            let (rows, cols) = (shape[0], shape[1])
            let columns = groupSize.map { (cols + $0 - 1) / $0 } ?? 1
            let offset = Float(1 << (bits - 1))
            // Rows are int32 words: packed even at 8 bits, the last word zero-padded.
            try decodeRows(
                source.bytes(of: packedTensor), rows: rows, cols: cols, bits: bits, rowStride: (cols * bits + 31) / 32 * 4,
                packedAt8: true,
                kernels: kernels, writer: writer
            ) { row, codes, out in
                for i in out.indices {
                    out[i] = (Float(codes[i]) - offset) * scales[row * columns + (groupSize.map { i / $0 } ?? 0)]
                }
            }
        case .kmeans(let codes, let codebookTensor, let bits, let perChannel, let shape):
            let codebooks = try allFloats(of: codebookTensor, source: source, kernels: kernels)
            let last = Swift.max(shape.last ?? 1, 1)
            let rows = shape.reduce(1, *) / last
            let rowsPerChannel = perChannel && shape[0] > 0 ? rows / shape[0] : Swift.max(rows, 1)
            try decodeRows(source.bytes(of: codes), rows: rows, cols: last, bits: bits, kernels: kernels, writer: writer) {
                row, codes, out in
                let base = (perChannel ? row / Swift.max(rowsPerChannel, 1) : 0) << bits
                for i in out.indices { out[i] = codebooks[base + Int(codes[i])] }
            }
        case .mx(let codes, let scaleTensor, let element, let shape):
            let scales = source.bytes(of: scaleTensor).bindMemory(to: UInt8.self)
            let last = Swift.max(shape.last ?? 1, 1)
            let rows = shape.reduce(1, *) / last
            let blocks = (last + MXElement.blockSize - 1) / MXElement.blockSize
            let table = (0..<256).map { element.decode(UInt8($0)) }
            try decodeRows(source.bytes(of: codes), rows: rows, cols: last, bits: element.bits, kernels: kernels, writer: writer)
            { row, codes, out in
                for i in out.indices {
                    out[i] = table[Int(codes[i])] * E8M0.decode(scales[row * blocks + i / MXElement.blockSize])
                }
            }
        case .linear(let codes, let scaleTensor, let zeroTensor, let scheme, let shape, let superTensor):
            let scales: [Float]
            if let superTensor {
                // Two-level: scale = the row's F32 super-scale x the group's integer.
                let supers = try allFloats(of: superTensor, source: source, kernels: kernels)
                let integers = source.bytes(of: scaleTensor).bindMemory(to: UInt8.self)
                let perRow = supers.isEmpty ? 0 : integers.count / supers.count
                scales = (0..<integers.count).map { supers[$0 / Swift.max(perRow, 1)] * Float(integers[$0]) }
            } else {
                scales = try allFloats(of: scaleTensor, source: source, kernels: kernels)
            }
            let zeros = zeroTensor.map { z in source.bytes(of: z).map { Int32($0) } }
            try LinearDequantization(
                codes: source.bytes(of: codes), scheme: scheme, shape: shape, scales: scales, zeros: zeros, kernels: kernels
            )
            .run(chunkElements: chunk, scratch: scratch) { try writer.write(UnsafeRawBufferPointer($0)) }
        }
    }
}

extension Dequantizer {
    /// Row by row, the unsigned codes of `rows` x `cols` (one byte each at 8 bits unless
    /// `packedAt8`, else bit fields packed least significant first, rows `rowStride` bytes apart),
    /// turned into fp32 by `value` and written.
    static func decodeRows(
        _ bytes: UnsafeRawBufferPointer, rows: Int, cols: Int, bits: Int, rowStride: Int? = nil, packedAt8: Bool = false,
        kernels: Kernels, writer: some DequantizedSink, value: (_ row: Int, _ codes: [UInt8], _ out: inout [Float]) -> Void
    ) throws {
        let codes = bytes.bindMemory(to: UInt8.self)
        let plain = bits == 8 && !packedAt8
        let stride = rowStride ?? (plain ? cols : Kernels.packedRowBytes(cols: cols, bits: bits))
        var unpacked = [UInt8](repeating: 0, count: cols)
        var out = [Float](repeating: 0, count: cols)
        for row in 0..<rows {
            let rowBytes = UnsafeBufferPointer(rebasing: codes[(row * stride)..<((row + 1) * stride)])
            if plain {
                for i in 0..<cols { unpacked[i] = rowBytes[i] }
            } else {
                try unpacked.withUnsafeMutableBufferPointer {
                    try kernels.unpack(rowBytes, rows: 1, cols: cols, bits: bits, signExtend: false, into: $0)
                }
            }
            value(row, unpacked, &out)
            try out.withUnsafeBytes { try writer.write($0) }
        }
    }

    /// A whole (small) tensor as fp32, e.g. scales. They may sit unaligned after byte-sized codes, so
    /// they are decoded into a scratch buffer that outlives the copy.
    static func allFloats(of tensor: SourceTensor, source: SourceModel, kernels: Kernels) throws -> [Float] {
        let scratch = ScratchBuffer<Float>(fill: 0)
        return try withExtendedLifetime(scratch) {
            Array(try source.floats(of: tensor, 0..<tensor.elementCount, scratch: scratch, kernels: kernels))
        }
    }
}

/// Codes (packed or not) + scales back to fp32, in chunks of whole rows of the last dimension.
struct LinearDequantization {
    let codes: UnsafeRawBufferPointer
    let scheme: LinearScheme
    let shape: [Int]
    let scales: [Float]
    let zeros: [Int32]?
    let kernels: Kernels

    func run(chunkElements: Int, scratch: ScratchBuffer<Float>, emit: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        let count = shape.reduce(1, *)
        let last = Swift.max(shape.last ?? 1, 1)
        let rows = count / last
        let stride = scheme.bits == 8 ? last : Kernels.packedRowBytes(cols: last, bits: scheme.bits)
        let step = shape.count <= 1 ? Swift.max(rows, 1) : Swift.max(1, chunkElements / last)
        let unpacked = ScratchBuffer<UInt8>(fill: 0)
        var row = 0
        while row < rows {
            let end = Swift.min(rows, row + step)
            let n = end - row
            let source = UnsafeBufferPointer(rebasing: codes.bindMemory(to: UInt8.self)[(row * stride)..<(end * stride)])
            let chunkCodes: UnsafeBufferPointer<UInt8>
            if scheme.bits == 8 {
                chunkCodes = source
            } else {
                let target = unpacked.take(n * last)
                try kernels.unpack(source, rows: n, cols: last, bits: scheme.bits, signExtend: scheme.symmetric, into: target)
                chunkCodes = UnsafeBufferPointer(target)
            }
            let out = scratch.take(n * last)
            try dequantize(chunkCodes, firstRow: row, rows: n, cols: last, into: out)
            try emit(UnsafeBufferPointer(out))
            row = end
        }
    }

    func dequantize(
        _ q: UnsafeBufferPointer<UInt8>, firstRow: Int, rows: Int, cols: Int, into out: UnsafeMutableBufferPointer<Float>
    ) throws {
        let signed = scheme.signedCodes
        switch scheme.granularity {
        case .tensor:
            try call(
                q, rows: 1, cols: rows * cols, group: Swift.max(rows * cols, 1), scales: [scales[0]],
                zeros: zeros.map { [$0[0]] }, out)
        case .group(let size):
            let groups = groupsPerRow(cols: cols, group: size)
            let range = (firstRow * groups)..<((firstRow + rows) * groups)
            try call(
                q, rows: rows, cols: cols, group: size, scales: Array(scales[range]), zeros: zeros.map { Array($0[range]) }, out)
        case .channel(let axis) where axis == shape.count - 1:
            try scales.withUnsafeBufferPointer { s in
                try withOptional(zeros) { z in
                    try kernels.dequantizeColumns(q, signed: signed, rows: rows, cols: cols, scales: s, zeroPoints: z, into: out)
                }
            }
        case .channel(let axis):
            let innerRows = shape[(axis + 1)..<(shape.count - 1)].reduce(1, *)
            let channel = { (row: Int) in (row / innerRows) % shape[axis] }
            let rowRange = firstRow..<(firstRow + rows)
            try call(
                q, rows: rows, cols: cols, group: cols, scales: rowRange.map { scales[channel($0)] },
                zeros: zeros.map { z in rowRange.map { z[channel($0)] } }, out)
        }
    }

    private func call(
        _ q: UnsafeBufferPointer<UInt8>, rows: Int, cols: Int, group: Int, scales: [Float], zeros: [Int32]?,
        _ out: UnsafeMutableBufferPointer<Float>
    ) throws {
        try scales.withUnsafeBufferPointer { s in
            try withOptional(zeros) { z in
                try kernels.dequantize(
                    q, signed: scheme.signedCodes, rows: rows, cols: cols, group: group, scales: s, zeroPoints: z, into: out)
            }
        }
    }
}

/// Where dequantized bytes go: the output file, or memory (`Dequantizer.values`).
protocol DequantizedSink {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension SafetensorsWriter: DequantizedSink {}

/// Collects a tensor's fp32 values in memory.
final class FloatCollector: DequantizedSink {
    var values: [Float] = []

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        values.append(contentsOf: bytes.bindMemory(to: Float.self))
    }
}

extension Dequantizer {
    /// Every tensor of a model (an original or an artifact of any layout), decoded one at a time.
    public final class Tensors {
        let source: SourceModel
        let items: [String: Source]
        let kernels: Kernels
        let scratch = ScratchBuffer<Float>(fill: 0)

        public init(path: String, kernels: Kernels = .best) throws {
            source = try SourceModel(path: path)
            items = Dictionary(try Dequantizer.plan(source).0, uniquingKeysWith: { first, _ in first })
            self.kernels = kernels
        }

        public var names: [String] { Array(items.keys) }

        /// The tensor's fp32 values and numpy shape, or nil when the model has no such tensor.
        public func values(_ name: String) throws -> (shape: [Int], values: [Float])? {
            guard let item = items[name] else { return nil }
            let shape: [Int]
            switch item {
            case .linear(_, _, _, _, let s, _), .binary(_, _, let s), .scaledFloat(_, _, _, _, let s), .mx(_, _, _, let s),
                .kmeans(_, _, _, _, let s),
                .packQuantized(_, _, _, _, let s):
                shape = s
            case .blocks(let t, _), .float(let t): shape = t.shape
            case .copy(let t, _):
                guard t.floatDType != nil else { return nil }
                shape = t.shape
            }
            let collector = FloatCollector()
            // Reserved whole: growing it chunk by chunk would copy and fault in the pages again and again.
            collector.values.reserveCapacity(shape.reduce(1, *))
            try Dequantizer.write(item, source: source, writer: collector, kernels: kernels, scratch: scratch)
            if case .blocks(let t, _) = item { source.release(t, elements: 0..<t.elementCount) }
            return (shape, collector.values)
        }

        /// GGUF metadata of the model, when it is a GGUF file.
        public var ggufMetadata: [GGUFKeyValue] {
            if case .gguf(let file) = source.model { return file.metadata }
            return []
        }

        /// config.json of a checkpoint.
        public var config: JSONObject? { source.checkpoint?.config }
    }
}
