/// Limits on what a client may send, each enforced with its own status (RELIABILITY.md; nginx's
/// defaults where they apply).
public struct HTTPLimits: Sendable {
    /// Request line bytes (414 beyond).
    public var maxRequestLine = 8 * 1024
    /// Total header bytes (431 beyond).
    public var maxHeaderBytes = 32 * 1024
    /// Header fields (431 beyond).
    public var maxHeaderCount = 100
    /// Default body limit (413 beyond); routes may set their own.
    public var maxBodyBytes: Int64 = 1 << 20
    /// Seconds to receive a whole request head (408 beyond).
    public var headerTimeout: Double = 60
    /// Seconds between two reads of a body (408 beyond): slowloris on bodies.
    public var bodyIdleTimeout: Double = 60
    /// Seconds an idle keep-alive connection is kept.
    public var keepAliveTimeout: Double = 75
    /// Open connections; beyond it new ones are closed at once.
    public var maxConnections = 4096
    /// Largest chunk size line accepted in chunked bodies (hex digits).
    public var maxChunkSizeDigits = 15
    /// Bytes of pipelined input buffered while a request is handled or its response written;
    /// beyond it the server stops reading the connection until the response is out. Bounds the
    /// memory of a client that sends without reading; a client that pipelines more than this plus
    /// the socket buffers must read responses as it goes (as HTTP/1.1 pipelining requires).
    public var maxPipelinedBytes = 1 << 20

    public init() {}
}
