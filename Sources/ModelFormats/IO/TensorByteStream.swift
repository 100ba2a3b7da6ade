/// The data section of a file whose writer streams tensors back to back (GGUF, safetensors): follows
/// which tensor the next bytes belong to (a chunk may span the end of one tensor and the start of
/// the next; writing more than the declared sizes, or finishing early, is an error), pads each
/// tensor with zeros up to `alignment`, and owns the file until it is finished.
struct TensorByteStream {
    let sink: FileSink
    let names: [String]
    let sizes: [Int]
    let alignment: Int
    private(set) var current = 0
    private(set) var written = 0
    private var finished = false

    init(sink: FileSink, names: [String], sizes: [Int], alignment: Int = 1) {
        self.sink = sink
        self.names = names
        self.sizes = sizes
        self.alignment = alignment
    }

    /// Steps past every complete tensor (empty ones included), writing its padding.
    mutating func advance() throws {
        while current < sizes.count && written == sizes[current] {
            try sink.writeZeros(try Checked.alignUp(sizes[current], alignment) - sizes[current])
            current += 1
            written = 0
        }
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            guard current < sizes.count else {
                throw FormatError(.writerMisuse, "more bytes written than the tensors declare")
            }
            let take = Swift.min(rest.count, sizes[current] - written)
            try sink.write(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            written += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            try advance()
        }
    }

    func checkComplete() throws {
        guard current == sizes.count else {
            throw FormatError(
                .writerMisuse, "tensor '\(names[current])' got \(written) of \(sizes[current]) bytes", tensor: names[current])
        }
    }

    /// Checks that every tensor received exactly its bytes, then flushes and closes the file; a
    /// second call does nothing.
    mutating func finish(sync: Bool) throws {
        guard !finished else { return }
        try checkComplete()
        finished = true
        try sink.close(sync: sync)
    }
}
