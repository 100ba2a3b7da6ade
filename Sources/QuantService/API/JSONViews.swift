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
        let millis = Int(((seconds - seconds.rounded(.down)) * 1000).rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: Swift.max(0, width - text.count)) + text
        }
        return .string("\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z")
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
                ("fraction", .number(String(format: "%.4f", total == 0 ? (j.state == .succeeded ? 1 : 0) : Double(done) / Double(total)))),
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
