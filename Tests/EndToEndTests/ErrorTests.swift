import Foundation
import QuantAPI
import QuantClient
import Testing

/// Mistakes and hostile input, seen through the client: typed errors carrying the server's
/// problem+json, and nothing half-done left behind.
@Suite("End to end: errors")
struct ErrorTests {
    func problem(_ body: () throws -> Void) -> Problem? {
        do {
            try body()
        } catch ClientError.problem(let p) {
            return p
        } catch {
            Issue.record("expected a problem, got \(error)")
        }
        return nil
    }

    @Test func badFilesBadRecipesAndUnknownIDs() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()

        let garbage = files.path("garbage.bin")
        try Data("this is not a model file at all".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(problem { _ = try client.uploadModel(path: garbage) }?.status == 415)

        // A safetensors header that promises more bytes than the file has.
        let model = try files.model()
        let truncated = files.path("truncated.safetensors")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: truncated))
        let malformed = problem { _ = try client.uploadModel(path: truncated) }
        #expect(malformed?.status == 422)
        #expect(malformed?.detail.isEmpty == false)
        #expect(try client.models().isEmpty, "failed uploads must leave nothing")

        let uploaded = try client.uploadModel(path: model)
        let badRecipe = problem { _ = try client.submitJob(modelID: uploaded.id, recipeJSON: #"{"weights": {"bits": 11}}"#) }
        #expect(badRecipe?.status == 422)
        #expect(badRecipe?.detail.contains("bits") == true, "\(String(describing: badRecipe))")
        #expect(problem { _ = try client.submitJob(modelID: uploaded.id, preset: "no-such-preset") }?.status == 422)
        #expect(problem { _ = try client.submitJob(modelID: "mdl_missing", preset: "int8") }?.status == 404)
        #expect(problem { _ = try client.job("job_missing") }?.status == 404)
        #expect(problem { _ = try client.model("mdl_missing") }?.status == 404)
        #expect(throws: ClientError.self) { _ = try client.submitJob(modelID: uploaded.id, recipeJSON: "[1, 2]") }
        #expect(throws: ClientError.self) { _ = try client.uploadModel(path: files.path("does-not-exist")) }
    }

    @Test func authAndTenants() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let admin = try server.client()
        let model = try admin.uploadModel(path: try files.model())
        let job = try admin.submitJob(modelID: model.id, preset: "int8")

        for key in ["qs_wrong", ""] {
            let stranger = try server.client(key: key)
            let refused = problem { _ = try stranger.models() }
            #expect(refused?.status == 401)
        }
        // Another tenant's objects answer exactly like missing ones.
        let other = try server.client(key: try server.createKey(tenant: "other"))
        #expect(try other.models().isEmpty)
        #expect(problem { _ = try other.model(model.id) }?.status == 404)
        #expect(problem { _ = try other.job(job.id) }?.status == 404)
        #expect(problem { _ = try other.cancelJob(job.id) }?.status == 404)
        #expect(problem { try other.deleteModel(model.id) }?.status == 404)
        #expect(try other.jobs().jobs.isEmpty)
        _ = try admin.waitForJob(job.id, initialInterval: 0.05)
        #expect(problem { try other.downloadArtifact(ofJob: job.id, to: files.path("stolen")) }?.status == 404)
        #expect(!FileManager.default.fileExists(atPath: files.path("stolen")))
    }

    /// The same Idempotency-Key returns the first job instead of a second one.
    @Test func idempotentSubmit() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let model = try client.uploadModel(path: try files.model())
        let first = try client.submitJob(modelID: model.id, recipeJSON: #"{"preset":"int8"}"#, idempotencyKey: "same-key")
        let again = try client.submitJob(modelID: model.id, recipeJSON: #"{"preset":"int8"}"#, idempotencyKey: "same-key")
        #expect(first.id == again.id)
        #expect(try client.jobs().jobs.count == 1)
        let conflict = problem {
            _ = try client.submitJob(modelID: model.id, recipeJSON: #"{"preset":"q8_0"}"#, idempotencyKey: "same-key")
        }
        #expect(conflict?.status == 422)
    }
}
