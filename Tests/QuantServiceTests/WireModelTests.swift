import Foundation
import JSON
import QuantAPI
import Testing

@testable import QuantService
@testable import QuantStore

/// The polling fast path (`JSONViews.write`, bytes written field by field) against the API's `Job`
/// type encoded by JSONEncoder: the same keys at every level, the same values.
@Suite("Wire model")
struct WireModelTests {
    static func record(_ state: JobState, configure: (inout JobRecord) -> Void = { _ in }) -> JobRecord {
        var job = JobRecord(
            id: "job_0123456789abcdefghij", tenantId: "tnt_1", modelId: "mdl_0123456789abcdefghij", name: "a \"quoted\"\nname",
            recipe: #"{"preset":"q4_k_m","weights":{"bits":4,"scale":0.01}}"#, state: state, attempt: 1, maxAttempts: 3,
            leaseOwner: nil, leaseExpiresAt: nil, notBefore: 0, progressDone: 1234, progressTotal: 5678, cancelRequested: false,
            errorCode: nil, errorMessage: nil, createdAt: 1_767_225_600.123, startedAt: nil, finishedAt: nil,
            updatedAt: 1_767_225_601.5, idempotencyKey: nil, requestHash: nil, artifactPath: nil, artifactSize: nil,
            artifactSha256: nil, summary: nil, expiresAt: nil)
        configure(&job)
        return job
    }

    static let summary = """
        {"tensors":3,"tensors_quantized":2,"tensors_kept":1,"parameters":4096,"bytes_in":16384,"bytes_out":2304,\
        "file_bytes_in":16500,"file_bytes_out":2500,"compression_ratio":7.11111,"bits_per_weight":4.5,"mean_sqnr_db":21.25,\
        "min_sqnr_db":null,"worst_tensor":null,"duration_seconds":0.25,"input_format":"safetensors","output_format":"gguf",\
        "mixed_precision":{"budget":4.5,"choices":{"Layer.W":"q4_k"}},"evaluation":{"chunks":2,"context":64,"tokens_scored":62,\
        "perplexity_original":12.5,"perplexity_quantized":12.75,"kl_divergence_mean":0.0125,"kl_divergence_p99":0.5,\
        "top1_agreement":0.9375}}
        """

    static let cases: [(String, JobRecord)] = [
        ("queued", record(.queued)),
        (
            "running, with a stage and a dataset",
            record(.running) {
                $0.startedAt = 1_767_225_600.9
                $0.progressStage = "evaluating"
                $0.datasetId = "dst_0123456789abcdefghij"
            }
        ),
        (
            "succeeded, a tar artifact",
            record(.succeeded) {
                $0.startedAt = 1_767_225_600.9
                $0.finishedAt = 1_767_225_700
                $0.artifactPath = "/data/artifacts/x.tar"
                $0.artifactSize = 99
                $0.artifactSha256 = String(repeating: "ab", count: 32)
                $0.expiresAt = 1_767_829_200
                $0.summary = summary
            }
        ),
        (
            "succeeded, artifact expired",
            record(.succeeded) {
                $0.artifactSize = 99
                $0.artifactSha256 = String(repeating: "cd", count: 32)
                $0.summary =
                    #"{"evaluation":{"texts":4,"embedding_cosine_mean":0.99,"embedding_cosine_min":0.98},"candidate":{"job_id":"job_x"}}"#
                $0.kind = "evaluate"
            }
        ),
        (
            "failed",
            record(.failed) {
                $0.errorCode = "no_space"
                $0.errorMessage = "the disk is full"
                $0.kind = "qat"
                $0.progressTotal = 0
            }
        ),
        (
            "cancelled, no progress",
            record(.cancelled) {
                $0.progressDone = nil
                $0.progressTotal = nil
                $0.name = nil
            }
        ),
    ]

    /// JSON as Foundation objects: numbers compare by value (0.2000 == 0.2), key order is ignored.
    static func foundation(_ bytes: [UInt8]) throws -> NSDictionary {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    @Test(arguments: cases.map(\.0))
    func fastPathWritesTheTypeFieldForField(name: String) throws {
        let record = try #require(Self.cases.first { $0.0 == name }?.1)
        let fast = JSONViews.jobBytes(record)
        let typed = try WireCoding.encode(JSONViews.job(record))
        let a = try Self.foundation(fast)
        let b = try Self.foundation(typed)
        #expect(Set(a.allKeys as! [String]) == Set(b.allKeys as! [String]))
        for key in a.allKeys as! [String] {
            // The summary is stored text embedded as is; its typed form leaves out its nulls.
            if key == "summary", let summary = a[key] as? NSDictionary {
                let typedSummary = try #require(b[key] as? NSDictionary)
                let present = summary.filter { !($0.value is NSNull) }
                #expect(
                    NSDictionary(dictionary: Dictionary(uniqueKeysWithValues: present.map { ($0.key as! String, $0.value) }))
                        == typedSummary)
                continue
            }
            #expect(
                NSDictionary(dictionary: [key: a[key]!]) == NSDictionary(dictionary: [key: b[key] as Any]),
                "\(name): \(key): \(String(describing: a[key])) != \(String(describing: b[key]))")
        }
        // And the client reads the fast path's bytes into the same value.
        #expect(try WireCoding.decode(Job.self, from: fast) == JSONViews.job(record))
    }

    @Test func everyPageOfJobsDecodes() throws {
        let records = Self.cases.map(\.1)
        let page = try WireCoding.decode(JobPage.self, from: JSONViews.jobListBytes(records, nextCursor: "job_next"))
        #expect(page.jobs == records.map(JSONViews.job) && page.nextCursor == "job_next")
        let last = try Self.foundation(JSONViews.jobListBytes([], nextCursor: nil))
        #expect(last["next_cursor"] is NSNull)
    }
}
