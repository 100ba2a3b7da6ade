import Testing

@testable import QuantClient

@Suite("Client retry policy")
struct RetryPolicyTests {
    @Test func exponentialCappedAndJittered() {
        let policy = RetryPolicy(maxAttempts: 6, baseDelay: 0.25, maxDelay: 8)
        // random = 1 shows the exponential itself; 0.5 the lowest jitter.
        #expect([1, 2, 3, 4, 5, 6, 7].map { policy.delay(after: $0, retryAfter: nil, random: 1) } == [0.25, 0.5, 1, 2, 4, 8, 8])
        #expect(policy.delay(after: 3, retryAfter: nil, random: 0.5) == 0.5)
        for attempt in 1...10 {
            let d = policy.delay(after: attempt, retryAfter: nil)
            #expect(d > 0 && d <= 8)
        }
    }

    @Test func retryAfterWinsWhenLonger() {
        let policy = RetryPolicy()
        #expect(policy.delay(after: 1, retryAfter: 3, random: 1) == 3)
        #expect(policy.delay(after: 6, retryAfter: 1, random: 1) == 8)
        // Absurd or broken values neither stall the client forever nor count.
        #expect(policy.delay(after: 1, retryAfter: 1e9, random: 1) == 300)
        #expect(policy.delay(after: 1, retryAfter: -5, random: 1) == 0.25)
        #expect(policy.delay(after: 1, retryAfter: .nan, random: 1) == 0.25)
    }

    @Test func whatIsRetried() {
        let client = QuantClient(server: "http://127.0.0.1:1", apiKey: nil)
        func response(_ status: Int, _ headers: [(name: String, value: String)] = []) -> Result<CurlResponse, ClientError> {
            .success(CurlResponse(status: status, headers: headers, body: []))
        }
        #expect(client.retryDelay(response(429, [("Retry-After", "2")]), mode: .all, attempt: 1) == 2)
        #expect(client.retryDelay(response(503), mode: .all, attempt: 1) != nil)
        #expect(client.retryDelay(response(500), mode: .all, attempt: 1) == nil)
        #expect(client.retryDelay(response(404), mode: .all, attempt: 1) == nil)
        // Uploads: a 429 is final (a quota), a refused connection is retried, a reset is not.
        #expect(client.retryDelay(response(429), mode: .connectOnly, attempt: 1) == nil)
        #expect(client.retryDelay(.failure(.network(code: 7, message: "")), mode: .connectOnly, attempt: 1) != nil)
        #expect(client.retryDelay(.failure(.network(code: 56, message: "")), mode: .connectOnly, attempt: 1) == nil)
        #expect(client.retryDelay(.failure(.network(code: 56, message: "")), mode: .all, attempt: 1) != nil)
        #expect(client.retryDelay(.failure(.network(code: 7, message: "")), mode: .none, attempt: 1) == nil)
        #expect(client.retryDelay(.failure(.file("x")), mode: .all, attempt: 1) == nil)
    }

    /// A refused connection surfaces as a typed network error after the configured attempts.
    @Test func refusedConnectionIsANetworkError() {
        var options = ClientOptions()
        options.retry = RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.01)
        let client = QuantClient(server: "http://127.0.0.1:1", apiKey: "k", options: options)
        do {
            _ = try client.models()
            Issue.record("expected a network error")
        } catch let error as ClientError {
            guard case .network(let code, _) = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(code == 7)
        } catch {
            Issue.record("untyped error \(error)")
        }
    }
}
