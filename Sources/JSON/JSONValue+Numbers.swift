import Foundation

/// Numbers as JSON text. JSON has no Inf or NaN: those become null.
extension JSONValue {
    /// `value` with `significantDigits` significant digits (C's %g: no trailing zeros, an exponent
    /// only for very large or small magnitudes); an integral value below 1e15 is written as an integer.
    public static func number(_ value: Double, significantDigits: Int) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded() && abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(format: "%.\(significantDigits)g", value))
    }

    /// `value` with exactly `decimals` digits after the point (a measurement reported to its precision).
    public static func number(_ value: Double, decimals: Int) -> JSONValue {
        guard value.isFinite else { return .null }
        return .number(String(format: "%.\(decimals)f", value))
    }
}
