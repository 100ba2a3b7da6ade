import Foundation
import HTTPServer
import ModelFormats
import QuantService
import QuantStore
import QuantTesting
import Testing

/// The API's routes run in-process through `Router.test`, without a socket or a spawned quantd:
/// authentication, the shape checks of a submit (each error names its field), idempotency, and
/// an upload through to a queued job. (The spawned server is tested in EndToEndTests and Interop.)
@Suite("Routes in-process")
struct RouterTests {
    let fixture: ServiceFixture
    let router: Router
    let key: String

    init() throws {
        fixture = try ServiceFixture()
        key = try fixture.store.createKey(tenantID: fixture.tenant.id).plaintext
        let pool = WorkerPool(store: fixture.store, data: fixture.data, workers: 1)  // never started: jobs stay queued
        router = ServiceAPI(store: fixture.store, data: fixture.data, pool: pool, config: ServiceConfig()).router()
    }

    var auth: [(name: String, value: String)] { [("Authorization", "Bearer \(key)")] }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func submit(_ body: String, headers: [(name: String, value: String)] = []) throws -> TestResponse {
        try router.test("POST", "/v1/jobs", headers: auth + headers, body: Array(body.utf8))
    }

    @Test func openRoutesNeedNoKeyAndTheRestDo() throws {
        #expect(try router.test("GET", "/healthz").status == 200)
        let refused = try router.test("GET", "/v1/jobs")
        #expect(refused.status == 401 && refused.header("Content-Type") == "application/problem+json")
        #expect(refused.header("WWW-Authenticate") == "Bearer")
        #expect(try router.test("GET", "/v1/jobs", headers: [("Authorization", "Bearer qs_not_a_key")]).status == 401)
        #expect(try router.test("GET", "/v1/jobs", headers: auth).status == 200)
    }

    @Test(
        arguments: [
            (#"not json"#, 400, nil),
            (#"[1, 2]"#, 400, nil),
            (#"{"model_id": "mdl_x", "recipe": {"preset": "int8"}, "colour": "red"}"#, 422, "colour"),
            (#"{"recipe": {"preset": "int8"}}"#, 422, "model_id"),
            (#"{"model_id": "mdl_x"}"#, 422, "recipe"),
            (#"{"model_id": "mdl_x", "recipe": {"preset": "int3"}}"#, 422, "recipe.preset"),
            (#"{"model_id": "mdl_x", "recipe": {"weights": {"bits": 12}}}"#, 422, "recipe.weights.bits"),
        ] as [(String, Int, String?)])
    func submitShapeErrorsNameTheirField(body: String, status: Int, field: String?) throws {
        let response = try submit(body)
        #expect(response.status == status, "\(response.text)")
        #expect(response.header("Content-Type") == "application/problem+json")
        let named = try json(response)["field"] as? String
        #expect(named == field)
    }

    @Test func anUnknownModelIsA404() throws {
        #expect(try submit(#"{"model_id": "mdl_nope", "recipe": {"preset": "int8"}}"#).status == 404)
    }

    @Test func uploadThenSubmitThenPollAndIdempotency() throws {
        let path = fixture.root.appendingPathComponent("upload.safetensors").path
        let writer = try SafetensorsWriter(path: path, tensors: [TensorSpec(name: "w", dtype: .f32, shape: [8, 64])])
        try writer.write(try FloatCodec.fromFloat32(.f32, (0..<512).map { Float($0 % 13) - 6 }))
        try writer.finish()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let uploaded = try router.test(
            "POST", "/v1/models?name=m", headers: auth + [("Content-Type", "application/octet-stream")], body: bytes)
        #expect(uploaded.status == 201, "\(uploaded.text)")
        let model = try #require(try json(uploaded)["id"] as? String)
        let body = #"{"model_id": "\#(model)", "recipe": {"preset": "int8"}}"#
        let first = try submit(body, headers: [("Idempotency-Key", "run-1")])
        #expect(first.status == 202 && first.header("Location")?.hasPrefix("/v1/jobs/job_") == true)
        let job = try #require(try json(first)["id"] as? String)
        // The same key and body: the same job, 200. The same key, another body: refused.
        let again = try submit(body, headers: [("Idempotency-Key", "run-1")])
        let againID = try json(again)["id"] as? String
        #expect(again.status == 200 && againID == job)
        let other = try submit(
            #"{"model_id": "\#(model)", "recipe": {"preset": "int4-g128"}}"#, headers: [("Idempotency-Key", "run-1")])
        let otherType = try json(other)["type"] as? String
        #expect(other.status == 422 && otherType?.hasSuffix("idempotency-conflict") == true)
        #expect(try submit(body, headers: [("Idempotency-Key", "")]).status == 400)
        let polled = try router.test("GET", "/v1/jobs/\(job)", headers: auth)
        let status = try json(polled)["status"] as? String
        #expect(polled.status == 200 && status == "queued")
        // Another tenant's key sees a 404, not the job.
        let stranger = try fixture.store.createKey(tenantID: try fixture.store.createTenant(name: "other").id).plaintext
        #expect(try router.test("GET", "/v1/jobs/\(job)", headers: [("Authorization", "Bearer \(stranger)")]).status == 404)
    }
}
