/// Incremental decoder of `Transfer-Encoding: chunked` bodies. Sizes are hex without sign or prefix
/// and bounded; extensions are ignored; trailers are read and dropped (they never override headers).
struct ChunkedDecoder {
    enum State: Equatable {
        case size
        case data(Int64)
        case dataEnd
        case trailers
        case done
    }

    struct Failure: Error { let detail: String }

    private(set) var state = State.size
    private var line: [UInt8] = []
    let maxDigits: Int
    /// Trailer bytes allowed in total.
    let maxTrailerBytes = 8192
    private var trailerBytes = 0

    init(maxDigits: Int) { self.maxDigits = maxDigits }

    var isDone: Bool { state == .done }

    /// Consumes bytes from `input` starting at `offset`; appends body data to `output`. Returns the
    /// new offset (stops at the end of input or when the body is done).
    mutating func feed(_ input: UnsafeRawBufferPointer, from offset: Int, into output: inout [UInt8]) throws -> Int {
        var i = offset
        while i < input.count && state != .done {
            switch state {
            case .size, .trailers, .dataEnd:
                let byte = input[i]
                i += 1
                if byte == 0x0A {
                    guard line.last == 0x0D else { throw Failure(detail: "bare LF in chunked framing") }
                    line.removeLast()
                    try endOfLine()
                } else {
                    line.append(byte)
                    if line.count > 4096 { throw Failure(detail: "chunk line too long") }
                    if state == .trailers {
                        trailerBytes += 1
                        if trailerBytes > maxTrailerBytes { throw Failure(detail: "trailers too large") }
                    }
                }
            case .data(let remaining):
                let take = Swift.min(Int64(input.count - i), remaining)
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<(i + Int(take))]))
                i += Int(take)
                state = remaining - take == 0 ? .dataEnd : .data(remaining - take)
            case .done:
                break
            }
        }
        return i
    }

    private mutating func endOfLine() throws {
        defer { line.removeAll(keepingCapacity: true) }
        switch state {
        case .size:
            var digits = line[...]
            if let semicolon = digits.firstIndex(of: UInt8(ascii: ";")) { digits = digits[..<semicolon] }
            while let c = digits.last, c == 0x20 || c == 0x09 { digits = digits.dropLast() }
            guard !digits.isEmpty, digits.count <= maxDigits, digits.allSatisfy({ isHex($0) }),
                let size = Int64(String(decoding: digits, as: UTF8.self), radix: 16)
            else { throw Failure(detail: "malformed chunk size") }
            state = size == 0 ? .trailers : .data(size)
        case .dataEnd:
            guard line.isEmpty else { throw Failure(detail: "chunk data longer than its size") }
            state = .size
        case .trailers:
            if line.isEmpty { state = .done }
        default:
            break
        }
    }

    private func isHex(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
}
