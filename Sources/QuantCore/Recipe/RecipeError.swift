/// A recipe problem: the JSON path of the offending field and what to change.
public struct RecipeError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Dotted path, e.g. "weights.bits" or "overrides[2].match".
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}
