/// How the client talks to the server: time limits, retries and limits on what it keeps in memory.
public struct ClientOptions: Sendable {
    /// Seconds to establish a TCP connection.
    public var connectTimeout: Double = 10
    /// Seconds a whole JSON exchange may take (uploads and downloads use `stallTimeout` instead).
    public var requestTimeout: Double = 60
    /// Seconds a transfer may make no progress before it is abandoned.
    public var stallTimeout: Double = 60
    public var retry = RetryPolicy()
    /// Largest JSON answer kept in memory.
    public var maxMemoryBody = 256 << 20
    public var userAgent = "quantctl/1 (QuantClient; libcurl)"

    public init() {}
}

/// Exponential backoff with jitter for connection errors, 429 and 503.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (1 = no retry).
    public var maxAttempts = 6
    public var baseDelay = 0.25
    public var maxDelay = 8.0

    public init(maxAttempts: Int = 6, baseDelay: Double = 0.25, maxDelay: Double = 8.0) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1): base x 2^(attempt-1), capped,
    /// then scaled by a random factor in [0.5, 1) so that many clients do not retry in step. A
    /// server's Retry-After (seconds) wins when it asks for longer.
    public func delay(after attempt: Int, retryAfter: Double?, random: Double = Double.random(in: 0.5..<1)) -> Double {
        let exponential = min(maxDelay, baseDelay * Double(1 << min(max(attempt - 1, 0), 30)))
        let jittered = exponential * random
        guard let retryAfter, retryAfter.isFinite, retryAfter > 0 else { return jittered }
        return min(max(jittered, retryAfter), 300)
    }
}
