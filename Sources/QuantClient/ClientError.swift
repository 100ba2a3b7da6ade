import QuantAPI

/// Everything the client can fail with, typed, so callers (and `quantctl`'s exit codes) can tell a
/// user mistake from a server failure from a network failure.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// The server answered with an error status; `problem` is its problem+json (or a stand-in when
    /// the body was not one).
    case problem(Problem)
    /// No answer: connection refused, DNS, timeout, reset (curl's code and message).
    case network(code: Int, message: String)
    /// An answer that is not what API v1 promises.
    case invalidResponse(String)
    /// A download whose bytes do not hash to the server's ETag.
    case integrity(String)
    /// A local file could not be read or written.
    case file(String)
    /// A job ended without success (failed or cancelled); `code`/`message` from the job.
    case jobFailed(id: String, status: String, code: String?, message: String?)
    /// A caller mistake detected before sending anything.
    case usage(String)

    public var description: String {
        switch self {
        case .problem(let p): "\(p.status) \(p.title): \(p.detail)" + (p.field.map { " (field: \($0))" } ?? "")
        case .network(let code, let message): "network error (curl \(code)): \(message)"
        case .invalidResponse(let what): "unexpected answer from the server: \(what)"
        case .integrity(let what): "download check failed: \(what)"
        case .file(let what): what
        case .jobFailed(let id, let status, let code, let message):
            "job \(id) \(status)" + (code.map { ": \($0)" } ?? "") + (message.map { ": \($0)" } ?? "")
        case .usage(let what): what
        }
    }

    /// The HTTP status for `.problem`, else nil.
    public var status: Int? {
        if case .problem(let p) = self { return p.status }
        return nil
    }
}
