import Foundation
import JSON
import ModelArchitectures
import ModelFormats

/// A llama.cpp importance matrix (the output of `llama-imatrix`): for each weight, named as llama.cpp
/// names it (`blk.0.attn_q.weight`), the mean squared value of each of its input columns over the
/// calibration text. It weights the search of the GGUF block types exactly as `llama-quantize
/// --imatrix` does, without the calibration samples themselves.
///
/// Both of llama.cpp's files are read (docs/CALIBRATION.md):
/// - GGUF (`imatrix.gguf`, the default since 2025): per weight `<name>.in_sum2` (F32, the sums of
///   squares, one row per expert) and `<name>.counts` (F32, tokens seen per expert); the value is
///   `in_sum2 / counts`, and 1 for an expert that saw no tokens.
/// - legacy (`imatrix.dat`): int32 entry count, then per entry int32 name length, the name, int32
///   ncall, int32 value count and the float values (the mean times ncall); optionally int32 chunk
///   count, int32 length and the dataset's name. The value is `values / ncall`.
/// Values are read when a tensor asks for them (the file stays mapped), and checked then: a
/// negative, NaN or infinite weight is an error naming the entry.
public final class ImportanceMatrix: Sendable {
    public enum Format: String, Sendable { case gguf, legacy }

    /// Where one entry's values are: `rows` rows (experts) of `columns` floats at `offset`, each
    /// row divided by its divisor; a divisor of 0 (an expert that saw no tokens) makes every value 1.
    struct Entry: Sendable {
        let offset: Int
        let rows: Int
        let columns: Int
        let divisors: [Float]
    }

    public static let maxEntries = 1 << 20
    static let maxNameBytes = 4096

    public let format: Format
    public let datasets: [String]
    public let chunkCount: Int
    let entries: [String: Entry]
    let file: MappedFile

    public var entryCount: Int { entries.count }

    /// What the file holds, for reports and the dataset view: format, entries, source texts, chunks.
    public var summary: JSONObject {
        JSONObject([
            ("format", .string(format.rawValue)), ("entries", .integer(entryCount)),
            ("datasets", .array(datasets.map(JSONValue.string))), ("chunks", .integer(chunkCount)),
        ])
    }

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        if file.bytes.starts(with: GGUFHeader.magic) {
            format = .gguf
            (entries, datasets, chunkCount) = try Self.parseGGUF(path: path)
        } else {
            format = .legacy
            (entries, datasets, chunkCount) = try Self.parseLegacy(file.bytes)
        }
    }

    /// Whether the file is meant as an importance matrix rather than a safetensors dataset: GGUF with
    /// an `.in_sum2` tensor, or a file that starts as a legacy one does (an entry count, then a name
    /// length and that many printable bytes), so that a damaged one gets `init`'s precise error.
    public static func recognizes(path: String) -> Bool {
        guard let file = try? MappedFile(path: path) else { return false }
        let bytes = file.bytes
        if bytes.starts(with: GGUFHeader.magic) {
            return (try? GGUFFile(path: path))?.tensors.contains { $0.name.hasSuffix(sumsSuffix) } ?? false
        }
        guard bytes.count >= 8 else { return false }
        let count = Int32(littleEndian: bytes.loadUnaligned(as: Int32.self))
        let length = Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: Int32.self)))
        guard (1...Int32(maxEntries)).contains(count), (1...maxNameBytes).contains(length) else { return false }
        return bytes[8..<min(bytes.count, 8 + length)].allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// The importance of each column of a 2-D weight `[rows, columns]`: the entry of that name, or of
    /// its llama.cpp name when the model uses Hugging Face names. Nil when the matrix has neither
    /// (llama.cpp then quantizes without, as here). An entry of another width is an error.
    public func weights(for tensor: String, columns: Int) throws -> (entry: String, values: [Float])? {
        guard let (name, entry) = lookup(tensor) else { return nil }
        guard entry.rows == 1, entry.columns == columns else {
            throw CalibrationError.mismatch(
                layer: tensor,
                "importance-matrix entry '\(name)' has \(entry.rows) x \(entry.columns) values but '\(tensor)' has \(columns) columns; use the importance matrix computed for this model"
            )
        }
        return (name, try values(name, entry))
    }

    func lookup(_ tensor: String) -> (String, Entry)? {
        if let entry = entries[tensor] { return (tensor, entry) }
        if let alias = LlamaCppNames.ggufName(ofHuggingFace: tensor), let entry = entries[alias] { return (alias, entry) }
        return nil
    }

    /// Reads and checks every entry: what an upload is validated with.
    public func validateValues() throws {
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) { _ = try values(name, entry) }
    }

    private func values(_ name: String, _ entry: Entry) throws -> [Float] {
        var out = [Float](repeating: 0, count: entry.rows * entry.columns)
        for row in 0..<entry.rows {
            for column in 0..<entry.columns {
                let raw = file.bytes.loadUnaligned(
                    fromByteOffset: entry.offset + 4 * (row * entry.columns + column), as: UInt32.self)
                let divisor = entry.divisors[row]
                let value = divisor > 0 ? Float(bitPattern: UInt32(littleEndian: raw)) / divisor : 1
                guard value.isFinite, value >= 0 else {
                    throw CalibrationError.invalidDataset(
                        "importance-matrix entry '\(name)' holds \(value) at column \(column); importance is a mean square (finite, at least 0)"
                    )
                }
                out[row * entry.columns + column] = value
            }
        }
        return out
    }

    // MARK: - GGUF

    static let sumsSuffix = ".in_sum2", countsSuffix = ".counts"

    private static func parseGGUF(path: String) throws -> ([String: Entry], [String], Int) {
        let gguf = try GGUFFile(path: path)
        let byName = Dictionary(gguf.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var entries: [String: Entry] = [:]
        for sums in gguf.tensors where sums.name.hasSuffix(sumsSuffix) {
            let name = String(sums.name.dropLast(sumsSuffix.count))
            guard let counts = byName[name + countsSuffix] else {
                throw invalid("entry '\(name)' has \(sumsSuffix) but no \(countsSuffix) tensor")
            }
            guard sums.type == .f32, counts.type == .f32 else {
                throw invalid(
                    "entry '\(name)': \(sumsSuffix) and \(countsSuffix) must be F32, got \(sums.type.name) and \(counts.type.name)"
                )
            }
            let columns = sums.dims.first ?? 0
            let rows = sums.dims.dropFirst().reduce(1, *)
            guard (1...2).contains(sums.dims.count), columns > 0, rows > 0, counts.elementCount == rows else {
                throw invalid(
                    "entry '\(name)': \(sumsSuffix) has dims \(sums.dims) and \(countsSuffix) \(counts.dims); expected [columns, experts] and one count per expert"
                )
            }
            let start = gguf.header.dataStart + counts.offset
            let divisors = (0..<rows).map { row -> Float in
                let count = Float(
                    bitPattern: UInt32(
                        littleEndian: gguf.mapping.bytes.loadUnaligned(fromByteOffset: start + 4 * row, as: UInt32.self)))
                // llama.cpp rounds the counts to integers; an expert that saw no tokens weighs 1.
                return count.isFinite ? max(count.rounded(), 0) : 0
            }
            entries[name] = Entry(offset: gguf.header.dataStart + sums.offset, rows: rows, columns: columns, divisors: divisors)
        }
        guard !entries.isEmpty else {
            throw invalid("the GGUF file has no `<weight>.in_sum2` tensors; it is not an importance matrix from llama-imatrix")
        }
        var datasets: [String] = []
        var chunks = 0
        for item in gguf.metadata {
            switch (item.key, item.value) {
            case ("imatrix.datasets", .array(.string(let names))): datasets = names
            case ("imatrix.chunk_count", .uint32(let count)): chunks = Int(count)
            default: break
            }
        }
        return (entries, datasets, chunks)
    }

    // MARK: - legacy

    private static func parseLegacy(_ bytes: UnsafeRawBufferPointer) throws -> ([String: Entry], [String], Int) {
        var cursor = 0
        func int32(_ what: String) throws -> Int {
            guard cursor + 4 <= bytes.count else { throw invalid("the file ends inside \(what) at byte \(cursor)") }
            defer { cursor += 4 }
            return Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: cursor, as: Int32.self)))
        }
        let count = try int32("the entry count")
        guard (1...maxEntries).contains(count) else {
            throw invalid(
                "the entry count is \(count); a legacy importance matrix (imatrix.dat) holds 1 to \(maxEntries) entries")
        }
        var entries: [String: Entry] = [:]
        for index in 0..<count {
            let length = try int32("the name length of entry \(index)")
            guard (1...maxNameBytes).contains(length), cursor + length <= bytes.count,
                let name = String(bytes: bytes[cursor..<(cursor + length)], encoding: .utf8)
            else {
                throw invalid("entry \(index) has a name of \(length) bytes that the file does not hold as UTF-8")
            }
            cursor += length
            let calls = try int32("the call count of entry '\(name)'")
            let values = try int32("the value count of entry '\(name)'")
            guard values >= 1, cursor + 4 * values <= bytes.count else {
                throw invalid(
                    "entry '\(name)' claims \(values) values but the file holds \(max(0, (bytes.count - cursor) / 4)) more floats"
                )
            }
            guard entries[name] == nil else { throw invalid("entry '\(name)' appears twice") }
            // llama.cpp divides by ncall when it is positive and takes the values as they are otherwise.
            entries[name] = Entry(offset: cursor, rows: 1, columns: values, divisors: [calls > 0 ? Float(calls) : 1])
            cursor += 4 * values
        }
        var chunks = 0
        var datasets: [String] = []
        // The trailing chunk count and dataset name are optional, as in llama.cpp.
        if cursor + 8 <= bytes.count {
            chunks = max(0, try int32("the chunk count"))
            let length = try int32("the dataset name's length")
            if length > 0, cursor + length <= bytes.count,
                let dataset = String(bytes: bytes[cursor..<(cursor + length)], encoding: .utf8)
            {
                datasets = [dataset]
            }
        }
        return (entries, datasets, chunks)
    }

    private static func invalid(_ message: String) -> CalibrationError {
        .invalidDataset("importance matrix: \(message)")
    }
}
