/// A problem+json document (RFC 9457): every error answer of the API.
public struct Problem: Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// For a 422 about the request body: the offending field's path.
    public var field: String?

    public init(type: String, title: String, status: Int, detail: String, field: String? = nil) {
        (self.type, self.title, self.status, self.detail, self.field) = (type, title, status, detail, field)
    }
}
