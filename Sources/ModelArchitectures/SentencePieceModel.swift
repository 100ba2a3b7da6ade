/// The pieces of a SentencePiece `tokenizer.model` (a protobuf ModelProto), read as
/// convert_hf_to_gguf.py reads them through the sentencepiece package: each piece's text, score and
/// type, and whether the model is BPE (llama.cpp's "llama" vocabulary) or Unigram.
struct SentencePieceModel {
    struct Piece {
        var text: String
        var score: Float
        /// sentencepiece's types, which are llama.cpp's: 1 normal, 2 unknown, 3 control,
        /// 4 user-defined, 5 unused, 6 byte.
        var type: Int32
    }

    var pieces: [Piece] = []
    /// TrainerSpec.model_type: 1 Unigram (the default), 2 BPE, 3 word, 4 char.
    var modelType = 1

    init(_ bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes: bytes[...])
        while let (field, wire) = try reader.key() {
            switch (field, wire) {
            case (1, 2): pieces.append(try Self.piece(try reader.lengthDelimited()))
            case (2, 2):
                var trainer = ProtobufReader(bytes: try reader.lengthDelimited())
                while let (field, wire) = try trainer.key() {
                    if field == 3, wire == 0 { modelType = Int(try trainer.varint()) } else { try trainer.skip(wire) }
                }
            default: try reader.skip(wire)
            }
        }
        guard !pieces.isEmpty else {
            throw ConversionError(.unsupportedTokenizer, "tokenizer.model holds no pieces: it is not a SentencePiece model")
        }
    }

    static func piece(_ bytes: ArraySlice<UInt8>) throws -> Piece {
        var reader = ProtobufReader(bytes: bytes)
        var piece = Piece(text: "", score: 0, type: 1)
        while let (field, wire) = try reader.key() {
            switch (field, wire) {
            case (1, 2):
                let raw = try reader.lengthDelimited()
                guard let text = String(validating: raw, as: UTF8.self) else {
                    throw ConversionError(.unsupportedTokenizer, "tokenizer.model: a piece is not valid UTF-8")
                }
                piece.text = text
            case (2, 5): piece.score = Float(bitPattern: try reader.fixed32())
            case (3, 0): piece.type = Int32(truncatingIfNeeded: try reader.varint())
            default: try reader.skip(wire)
            }
        }
        return piece
    }
}

/// Just enough of the protobuf wire format to read a SentencePiece model: keys, varints, 32- and
/// 64-bit values and length-delimited fields, every length checked against what is left.
struct ProtobufReader {
    var bytes: ArraySlice<UInt8>

    static func damaged(_ what: String) -> ConversionError {
        ConversionError(.unsupportedTokenizer, "tokenizer.model is damaged (\(what)): it is not a SentencePiece model")
    }

    /// The next field number and wire type, or nil at the end.
    mutating func key() throws -> (Int, Int)? {
        guard !bytes.isEmpty else { return nil }
        let key = try varint()
        return (Int(key >> 3), Int(key & 7))
    }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let byte = bytes.popFirst() else { throw Self.damaged("a varint runs past the end") }
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        throw Self.damaged("a varint is longer than 10 bytes")
    }

    mutating func fixed32() throws -> UInt32 {
        guard bytes.count >= 4 else { throw Self.damaged("a 32-bit value runs past the end") }
        let value = bytes.prefix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << UInt32(8 * $1.offset) }
        bytes = bytes.dropFirst(4)
        return value
    }

    mutating func lengthDelimited() throws -> ArraySlice<UInt8> {
        let length = try varint()
        guard length <= UInt64(bytes.count) else { throw Self.damaged("a field's length runs past the end") }
        let value = bytes.prefix(Int(length))
        bytes = bytes.dropFirst(Int(length))
        return value
    }

    mutating func skip(_ wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1:
            guard bytes.count >= 8 else { throw Self.damaged("a 64-bit value runs past the end") }
            bytes = bytes.dropFirst(8)
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw Self.damaged("wire type \(wire)")
        }
    }
}
