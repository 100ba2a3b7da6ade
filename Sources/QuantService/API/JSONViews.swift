import Foundation
import JSON
import ModelFormats
import QuantAPI
import QuantStore

/// Store records as the API's types (QuantAPI), and a job written straight to bytes for polls.
enum JSONViews {
    /// RFC 3339 in UTC with milliseconds, formatted by hand: a DateFormatter per call dominated the
    /// cost of GET /v1/jobs/{id} (ICU set-up).
    static func timestampBytes(_ seconds: Double?) -> [UInt8]? {
        guard let seconds, seconds.isFinite else { return nil }
        var text: [UInt8] = []
        text.reserveCapacity(24)
        appendTimestamp(seconds, to: &text)
        return text
    }

    /// `seconds` (finite) as RFC 3339 UTC with milliseconds, appended to `text`.
    static func appendTimestamp(_ seconds: Double, to text: inout [UInt8]) {
        var whole = time_t(seconds.rounded(.down))
        let millis = Int32(((seconds - seconds.rounded(.down)) * 1000).rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func digits(_ value: Int32, _ width: Int, then separator: UInt8?) {
            var divisor: Int32 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
            if let separator { text.append(separator) }
        }
        digits(parts.tm_year + 1900, 4, then: UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2, then: UInt8(ascii: "-"))
        digits(parts.tm_mday, 2, then: UInt8(ascii: "T"))
        digits(parts.tm_hour, 2, then: UInt8(ascii: ":"))
        digits(parts.tm_min, 2, then: UInt8(ascii: ":"))
        digits(parts.tm_sec, 2, then: UInt8(ascii: "."))
        digits(millis, 3, then: UInt8(ascii: "Z"))
    }

    /// `done / total` with four decimals, as JSON (String(format:) goes through Foundation's NSString).
    static func fraction(done: Int64, total: Int64, finished: Bool) -> String {
        let ten4 = total == 0 ? (finished ? 10_000 : 0) : Int64((Double(done) / Double(total) * 10_000).rounded())
        let clamped = min(max(ten4, 0), 10_000)
        let decimals = String(clamped % 10_000)
        return "\(clamped / 10_000).\(String(repeating: "0", count: 4 - decimals.count))\(decimals)"
    }

    static func timestampText(_ seconds: Double?) -> String? {
        timestampBytes(seconds).map { String(decoding: $0, as: UTF8.self) }
    }

    static func dataset(_ d: DatasetRecord) -> Dataset {
        Dataset(
            id: d.id, name: d.name, size: d.size, sha256: d.sha256, tensorCount: d.tensorCount,
            createdAt: timestampText(d.createdAt.timeIntervalSince1970) ?? "", links: ["self": "/v1/datasets/\(d.id)"])
    }

    static func model(_ m: ModelRecord) -> Model {
        Model(
            id: m.id, name: m.name, format: m.format, size: m.size, sha256: m.sha256, tensorCount: m.tensorCount,
            parameterCount: m.parameterCount, createdAt: timestampText(m.createdAt.timeIntervalSince1970) ?? "",
            links: ["self": "/v1/models/\(m.id)", "tensors": "/v1/models/\(m.id)/tensors"])
    }

    /// A job as the API's type: the reference `write(_:to:)` is held to, field for field
    /// (WireModelTests). Every job response goes through `write`, which skips building this value.
    static func job(_ j: JobRecord) -> Job {
        let total = j.progressTotal ?? 0
        let done = j.state == .succeeded ? total : (j.progressDone ?? 0)
        var links: Links = ["self": "/v1/jobs/\(j.id)", "model": "/v1/models/\(j.modelId)"]
        if j.state == .succeeded {
            links["report"] = "/v1/jobs/\(j.id)/report"
            if j.artifactPath != nil { links["artifact"] = "/v1/jobs/\(j.id)/artifact" }
        }
        if !j.state.isTerminal { links["cancel"] = "/v1/jobs/\(j.id)/cancel" }
        let artifact = j.artifactSha256.map { sha in
            Job.Artifact(
                size: j.artifactSize ?? 0, sha256: sha, archive: j.artifactPath?.hasSuffix(".tar") == true ? "tar" : nil,
                expiresAt: timestampText(j.expiresAt), available: j.artifactPath != nil)
        }
        return Job(
            id: j.id, modelId: j.modelId, datasetId: j.datasetId, kind: j.kind == "quantize" ? nil : j.kind, name: j.name,
            status: j.state.rawValue,
            progress: Job.Progress(
                done: done, total: total,
                fraction: Double(fraction(done: done, total: total, finished: j.state == .succeeded)) ?? 0,
                stage: j.state == .running ? j.progressStage : nil),
            recipe: (try? StrictJSON.parse(j.recipe)) ?? .null, attempt: j.attempt, maxAttempts: j.maxAttempts,
            createdAt: timestampText(j.createdAt) ?? "", startedAt: timestampText(j.startedAt),
            finishedAt: timestampText(j.finishedAt),
            updatedAt: timestampText(j.updatedAt) ?? "",
            error: j.errorCode.map { Job.Failure(code: $0, message: j.errorMessage ?? "") },
            summary: j.summary.flatMap { try? WireCoding.decode(JobSummary.self, from: Array($0.utf8)) }, links: links,
            artifact: artifact)
    }

    /// A job as JSON (openapi.yaml `Job`), written straight to bytes: this is the body of every poll.
    static func jobBytes(_ j: JobRecord) -> [UInt8] {
        var out = JSONStream(capacity: 1536)
        write(j, to: &out)
        return out.bytes
    }

    /// A page of `GET /v1/jobs`: `{"jobs": [...], "next_cursor": ...}`, every job written straight
    /// into the one stream (no per-job document and copy).
    static func jobListBytes(_ jobs: [JobRecord], nextCursor: String?) -> [UInt8] {
        var out = JSONStream(capacity: 64 + 1536 * jobs.count)
        out.beginObject()
        out.key("jobs")
        out.beginArray()
        for job in jobs { write(job, to: &out) }
        out.endArray()
        out.key("next_cursor")
        out.string(nextCursor)
        out.endObject()
        return out.bytes
    }

    static func write(_ j: JobRecord, to out: inout JSONStream) {
        func time(_ key: String, _ seconds: Double?) {
            out.key(key)
            if let seconds, seconds.isFinite { out.plainString { appendTimestamp(seconds, to: &$0) } } else { out.fragment(nil) }
        }
        let total = j.progressTotal ?? 0
        let done = j.state == .succeeded ? total : (j.progressDone ?? 0)
        out.beginObject()
        out.key("id")
        out.string(j.id)
        out.key("model_id")
        out.string(j.modelId)
        if let dataset = j.datasetId {
            out.key("dataset_id")
            out.string(dataset)
        }
        if j.kind != "quantize" {
            out.key("kind")
            out.string(j.kind)
        }
        out.key("name")
        out.string(j.name)
        out.key("status")
        out.string(j.state.rawValue)
        out.key("progress")
        out.beginObject()
        out.key("done")
        out.integer(done)
        out.key("total")
        out.integer(total)
        out.key("fraction")
        out.fragment(fraction(done: done, total: total, finished: j.state == .succeeded))
        if let stage = j.progressStage, j.state == .running {
            out.key("stage")
            out.string(stage)
        }
        out.endObject()
        // Stored recipes and summaries are JSON this service serialized: embed them as they are.
        out.key("recipe")
        out.fragment(j.recipe)
        out.key("attempt")
        out.integer(j.attempt)
        out.key("max_attempts")
        out.integer(j.maxAttempts)
        time("created_at", j.createdAt)
        time("started_at", j.startedAt)
        time("finished_at", j.finishedAt)
        time("updated_at", j.updatedAt)
        out.key("error")
        if let code = j.errorCode {
            out.beginObject()
            out.key("code")
            out.string(code)
            out.key("message")
            out.string(j.errorMessage ?? "")
            out.endObject()
        } else {
            out.fragment(nil)
        }
        out.key("summary")
        out.fragment(j.summary)
        out.key("links")
        out.beginObject()
        // Paths of ids this service generated ([a-z0-9_]): written in place, no escaping needed.
        func link(_ key: String, _ prefix: String, _ id: String, _ suffix: String = "") {
            out.key(key)
            out.plainString { bytes in
                bytes.append(contentsOf: prefix.utf8)
                bytes.append(contentsOf: id.utf8)
                bytes.append(contentsOf: suffix.utf8)
            }
        }
        link("self", "/v1/jobs/", j.id)
        link("model", "/v1/models/", j.modelId)
        if j.state == .succeeded {
            link("report", "/v1/jobs/", j.id, "/report")
            if j.artifactPath != nil { link("artifact", "/v1/jobs/", j.id, "/artifact") }
        }
        if !j.state.isTerminal { link("cancel", "/v1/jobs/", j.id, "/cancel") }
        out.endObject()
        if let sha = j.artifactSha256 {
            out.key("artifact")
            out.beginObject()
            out.key("size")
            out.integer(j.artifactSize ?? 0)
            out.key("sha256")
            out.string(sha)
            // A checkpoint folder comes as one tar with SHA256SUMS (FolderArchive).
            if j.artifactPath?.hasSuffix(".tar") == true {
                out.key("archive")
                out.string("tar")
            }
            time("expires_at", j.expiresAt)
            out.key("available")
            out.value(.bool(j.artifactPath != nil))
            out.endObject()
        }
        out.endObject()
    }
}
