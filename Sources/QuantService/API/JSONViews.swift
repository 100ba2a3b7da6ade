import Foundation
import ModelFormats
import QuantStore

/// The JSON shapes of the API (openapi.yaml), built with ModelFormats' deterministic JSON.
enum JSONViews {
    /// RFC 3339 in UTC with milliseconds, formatted by hand: a DateFormatter per call dominated the
    /// cost of GET /v1/jobs/{id} (ICU set-up).
    static func timestamp(_ seconds: Double?) -> JSONValue {
        guard let seconds, seconds.isFinite else { return .null }
        var whole = time_t(seconds.rounded(.down))
        let millis = Int32(((seconds - seconds.rounded(.down)) * 1000).rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        var text: [UInt8] = []
        text.reserveCapacity(24)
        func digits(_ value: Int32, _ width: Int, then separator: Character?) {
            var divisor: Int32 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
            if let separator, let byte = separator.asciiValue { text.append(byte) }
        }
        digits(parts.tm_year + 1900, 4, then: "-")
        digits(parts.tm_mon + 1, 2, then: "-")
        digits(parts.tm_mday, 2, then: "T")
        digits(parts.tm_hour, 2, then: ":")
        digits(parts.tm_min, 2, then: ":")
        digits(parts.tm_sec, 2, then: ".")
        digits(millis, 3, then: "Z")
        return .string(String(decoding: text, as: UTF8.self))
    }

    /// `done / total` with four decimals, as JSON (String(format:) goes through Foundation's NSString).
    static func fraction(done: Int64, total: Int64, finished: Bool) -> JSONValue {
        let ten4 = total == 0 ? (finished ? 10_000 : 0) : Int64((Double(done) / Double(total) * 10_000).rounded())
        let clamped = min(max(ten4, 0), 10_000)
        let decimals = String(clamped % 10_000)
        return .number("\(clamped / 10_000).\(String(repeating: "0", count: 4 - decimals.count))\(decimals)")
    }

    static func model(_ m: ModelRecord) -> JSONValue {
        .object(JSONObject([
            ("id", .string(m.id)), ("name", .string(m.name)), ("format", .string(m.format)), ("size", .integer(m.size)),
            ("sha256", .string(m.sha256)), ("tensor_count", .integer(m.tensorCount)), ("parameter_count", .integer(m.parameterCount)),
            ("created_at", timestamp(m.createdAt.timeIntervalSince1970)),
            ("links", .object(JSONObject([("self", .string("/v1/models/\(m.id)")), ("tensors", .string("/v1/models/\(m.id)/tensors"))]))),
        ]))
    }

    static func job(_ j: JobRecord) -> JSONValue {
        let total = j.progressTotal ?? 0
        let done = j.state == .succeeded ? total : (j.progressDone ?? 0)
        var object = JSONObject([
            ("id", .string(j.id)), ("model_id", .string(j.modelId)), ("name", j.name.map { .string($0) } ?? .null),
            ("status", .string(j.state.rawValue)),
            ("progress", .object(JSONObject([
                ("done", .integer(done)), ("total", .integer(total)),
                ("fraction", fraction(done: done, total: total, finished: j.state == .succeeded)),
            ]))),
            // Stored recipes and summaries are JSON this service serialized: embed them as they are.
            ("recipe", .fragment(j.recipe)),
            ("attempt", .integer(j.attempt)), ("max_attempts", .integer(j.maxAttempts)),
            ("created_at", timestamp(j.createdAt)), ("started_at", timestamp(j.startedAt)), ("finished_at", timestamp(j.finishedAt)),
            ("updated_at", timestamp(j.updatedAt)),
        ])
        object["error"] = j.errorCode.map { .object(JSONObject([("code", .string($0)), ("message", .string(j.errorMessage ?? ""))])) } ?? .null
        object["summary"] = j.summary.map { .fragment($0) } ?? .null
        var links = JSONObject([("self", .string("/v1/jobs/\(j.id)")), ("model", .string("/v1/models/\(j.modelId)"))])
        if j.state == .succeeded {
            links["report"] = .string("/v1/jobs/\(j.id)/report")
            if j.artifactPath != nil { links["artifact"] = .string("/v1/jobs/\(j.id)/artifact") }
        }
        if !j.state.isTerminal { links["cancel"] = .string("/v1/jobs/\(j.id)/cancel") }
        object["links"] = .object(links)
        if let sha = j.artifactSha256 {
            object["artifact"] = .object(JSONObject([("size", .integer(j.artifactSize ?? 0)), ("sha256", .string(sha)),
                                                     ("expires_at", timestamp(j.expiresAt)), ("available", .bool(j.artifactPath != nil))]))
        }
        return .object(object)
    }
}
