import Foundation
import ModelFormats
import QuantAPI
import QuantClient
import QuantCore
import Testing

/// The server's submit-time check and a local run plan a model through the same function, so every
/// preset is accepted by the one exactly when the other succeeds (llama.cpp's mix fallbacks
/// included: rows of 384 are not whole K-quant super-blocks).
@Suite("End to end: server and CLI plan alike")
struct PlanningAgreementTests {
    @Test func everyPresetIsJudgedAlikeOnBothPaths() throws {
        let server = try LiveServer()
        let files = try Fixtures()
        let client = try server.client()
        let modelPath = try files.model(layers: 2, rows: 32, cols: 384)
        let model = try client.uploadModel(path: modelPath, name: "rows-384")
        var disagreements: [String] = []
        var acceptedKQuantMix = false
        for preset in Preset.all {
            let local: Result<Void, Error> = Result {
                _ = try Pipeline.run(
                    input: modelPath, output: files.path("\(preset.name).local"),
                    recipe: try Recipe.parse("{\"preset\": \"\(preset.name)\"}"))
            }
            let served: Result<Void, Error> = Result { _ = try client.submitJob(modelID: model.id, preset: preset.name) }
            if case .failure(let error as ClientError) = served, error.status != 422 {
                Issue.record("\(preset.name): unexpected answer \(error)")
            }
            switch (local, served) {
            case (.success, .success):
                if preset.name == "q4_k_m" { acceptedKQuantMix = true }
            case (.failure, .failure): break
            case (.success, .failure(let error)):
                disagreements.append("\(preset.name): local succeeded, server refused: \(error)")
            case (.failure(let error), .success): disagreements.append("\(preset.name): server accepted, local failed: \(error)")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements)")
        #expect(acceptedKQuantMix, "q4_k_m on 384-wide rows must be accepted (llama.cpp's fallbacks apply)")
    }
}
