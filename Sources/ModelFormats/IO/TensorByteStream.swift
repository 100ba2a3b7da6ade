/// Follows which tensor the next bytes belong to, for writers that stream tensors back to back:
/// a chunk may span the end of one tensor and the start of the next, and writing more than the
/// declared sizes, or finishing early, is an error.
struct TensorByteStream {
    let names: [String]
    let sizes: [Int]
    private(set) var current = 0
    private(set) var written = 0

    init(names: [String], sizes: [Int]) {
        self.names = names
        self.sizes = sizes
    }

    /// Steps past every complete tensor (empty ones included), calling `completed` with its size.
    mutating func advance(_ completed: (Int) throws -> Void) rethrows {
        while current < sizes.count && written == sizes[current] {
            try completed(sizes[current])
            current += 1
            written = 0
        }
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer, to sink: FileSink, completed: (Int) throws -> Void) throws {
        var rest = bytes
        while !rest.isEmpty {
            guard current < sizes.count else {
                throw FormatError(.writerMisuse, "more bytes written than the tensors declare")
            }
            let take = Swift.min(rest.count, sizes[current] - written)
            try sink.write(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            written += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            try advance(completed)
        }
    }

    func checkComplete() throws {
        guard current == sizes.count else {
            throw FormatError(
                .writerMisuse, "tensor '\(names[current])' got \(written) of \(sizes[current]) bytes", tensor: names[current])
        }
    }
}
