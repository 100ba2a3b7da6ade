import Foundation

/// One HTTP exchange as the client describes it, before curl runs it.
struct CurlRequest: Sendable {
    enum Body: Sendable {
        case none
        case bytes([UInt8])
        /// Streamed from disk through curl's read callback, never loaded whole.
        case file(path: String)
        /// A tar archive of files in a folder, made while it is sent (checkpoint uploads).
        case tar(directory: String, files: [String])
    }

    enum Sink: Sendable {
        /// The body in memory (JSON answers), up to `ClientOptions.maxMemoryBody` bytes.
        case memory
        /// A 2xx body appended to the file at `path` (downloads); other answers stay in memory, so
        /// a problem+json never lands in the artifact file.
        case file(path: String)
    }

    var method: String
    var url: String
    var headers: [(name: String, value: String)] = []
    var body: Body = .none
    var sink: Sink = .memory
    /// A whole-request time limit for small exchanges; streaming transfers use the stall limit.
    var totalTimeout: Double?
}

/// What came back: status, header fields (the final response's) and the in-memory body.
public struct CurlResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// Bytes sent and received so far, and the totals when known (0 when unknown).
public struct TransferProgress: Sendable {
    public var uploaded: Int64
    public var uploadTotal: Int64
    public var downloaded: Int64
    public var downloadTotal: Int64
}
