import CSHA256

/// SHA-256 (FIPS 180-4), incremental. Whole blocks go to the C compression function (SHA
/// extensions where the CPU has them); checked against the NIST vectors and the portable path.
public struct SHA256: Sendable {
    private var state: [UInt32] = [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19]
    private var buffer = [UInt8]()
    private var length: UInt64 = 0

    public init() { buffer.reserveCapacity(64) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var rest = bytes[...]
        if !buffer.isEmpty {
            let take = Swift.min(64 - buffer.count, rest.count)
            buffer += rest.prefix(take)
            rest = rest.dropFirst(take)
            if buffer.count == 64 {
                buffer.withUnsafeBytes { compress(UnsafeRawBufferPointer($0), blocks: 1) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        let whole = rest.count / 64
        if whole > 0 {
            compress(UnsafeRawBufferPointer(rebasing: rest.prefix(whole * 64)), blocks: whole)
            rest = rest.dropFirst(whole * 64)
        }
        buffer += rest
    }

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        // Contiguous bytes (arrays, a String's UTF-8) go straight in; others are copied once.
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) != nil { return }
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The digest. Padding and the digest are built in place: this runs on every authenticated
    /// request (the key's hash), where growing arrays byte by byte cost a dozen allocations.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        // 0x80, zeros up to 56 mod 64, then the 64-bit big-endian bit length.
        let padding = (buffer.count < 56 ? 56 : 120) - buffer.count
        var tail = [UInt8](repeating: 0, count: padding + 8)
        tail[0] = 0x80
        for i in 0..<8 { tail[padding + i] = UInt8(truncatingIfNeeded: bitLength >> UInt64(56 - 8 * i)) }
        tail.withUnsafeBytes { update($0) }
        var digest = [UInt8](repeating: 0, count: 32)
        for (i, word) in state.enumerated() {
            for b in 0..<4 { digest[i * 4 + b] = UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * b)) }
        }
        return digest
    }

    public static func hash<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    private mutating func compress(_ data: UnsafeRawBufferPointer, blocks: Int) {
        guard let base = data.baseAddress else { return }
        state.withUnsafeMutableBufferPointer { qs_sha256_blocks($0.baseAddress, base.assumingMemoryBound(to: UInt8.self), blocks) }
    }
}
