/// Checked arithmetic for sizes that come from files. Every product and sum of file-provided numbers
/// goes through these, so an overflow is a thrown error instead of a wrap-around or a trap.
enum Checked {
    static func multiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String, tensor: String? = nil) throws -> Int {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        if overflow { throw FormatError(.sizeOverflow, "\(what()) overflows a 64-bit size", tensor: tensor) }
        return value
    }

    static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String, tensor: String? = nil) throws -> Int {
        let (value, overflow) = a.addingReportingOverflow(b)
        if overflow { throw FormatError(.sizeOverflow, "\(what()) overflows a 64-bit size", tensor: tensor) }
        return value
    }

    /// Product of all dimensions, or a thrown `sizeOverflow`.
    static func elementCount(_ shape: [Int], tensor: String? = nil) throws -> Int {
        var count = 1
        for dim in shape { count = try multiply(count, dim, "element count of shape \(shape)", tensor: tensor) }
        return count
    }

    /// Converts a file-provided unsigned value to Int, rejecting values above Int.max.
    static func int(_ value: UInt64, _ what: @autoclosure () -> String, offset: Int? = nil, tensor: String? = nil) throws -> Int {
        guard value <= UInt64(Int.max) else {
            throw FormatError(.sizeOverflow, "\(what()) (\(value)) is larger than any file", offset: offset, tensor: tensor)
        }
        return Int(value)
    }

    /// Rounds `value` up to a multiple of `alignment` (a power of two).
    static func alignUp(_ value: Int, _ alignment: Int) throws -> Int {
        let bumped = try add(value, alignment - 1, "aligned size")
        return bumped & ~(alignment - 1)
    }
}
