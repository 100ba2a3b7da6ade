import ModelFormats

/// Reads a file with our reader and writes it back with our writer, streaming the tensor data.
enum Roundtrip {
    static func copy(from input: String, to output: String) throws {
        switch try ModelFile.open(path: input) {
        case .safetensors(let file):
            let specs = file.tensors.map { TensorSpec(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
            let writer = try SafetensorsWriter(path: output, tensors: specs, metadata: file.metadata)
            for info in file.tensors { try writer.write(file.bytes(of: info)) }
            try writer.finish()
        case .gguf(let file):
            let specs = file.tensors.map { GGUFTensorSpec(name: $0.name, dims: $0.dims, type: $0.type) }
            let writer = try GGUFWriter(path: output, metadata: file.metadata, tensors: specs, version: file.header.version)
            for info in file.tensors { try writer.write(file.bytes(of: info)) }
            try writer.finish()
        }
    }
}
