import Foundation
import QuantService
import Testing

/// The artifact store owns every path under `artifacts/`: what it names, publishes and removes.
@Suite("Artifact store")
struct ArtifactStoreTests {
    let data: DataDirectory
    let artifacts: ArtifactStore

    init() throws {
        data = DataDirectory(
            root: FileManager.default.temporaryDirectory.appendingPathComponent("qs-artifacts-\(UUID().uuidString)").path)
        try data.prepare()
        artifacts = ArtifactStore(data: data)
    }

    func write(_ path: String) {
        FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
    }

    @Test func slotsNameOneFilePerAttempt() throws {
        let first = try artifacts.slot(job: "job_a", attempt: 1, fileExtension: "gguf")
        let second = try artifacts.slot(job: "job_a", attempt: 2, fileExtension: "tar")
        #expect(first.path == data.artifacts + "/job_a/attempt-1.gguf")
        #expect(second.folder == data.artifacts + "/job_a/attempt-2.tar.folder")
        write(first.path)
        try artifacts.publish(first)
        #expect(FileManager.default.fileExists(atPath: first.path))
    }

    @Test func discardRemovesAnAttemptsFileAndFolder() throws {
        let slot = try artifacts.slot(job: "job_b", attempt: 1, fileExtension: "tar")
        try FileManager.default.createDirectory(atPath: slot.folder, withIntermediateDirectories: true)
        write(slot.folder + "/model.safetensors")
        write(slot.path)
        artifacts.discard(slot)
        #expect(!FileManager.default.fileExists(atPath: slot.folder) && !FileManager.default.fileExists(atPath: slot.path))
    }

    @Test func removeKeepsTheJobFolderWhileAnotherAttemptIsInIt() throws {
        let stale = try artifacts.slot(job: "job_c", attempt: 1, fileExtension: "gguf")
        let current = try artifacts.slot(job: "job_c", attempt: 2, fileExtension: "gguf")
        write(stale.path)
        write(current.path)
        artifacts.remove(stale.path)
        #expect(!FileManager.default.fileExists(atPath: stale.path) && FileManager.default.fileExists(atPath: current.path))
        artifacts.remove(current.path)
        #expect(!FileManager.default.fileExists(atPath: data.artifacts + "/job_c"))
    }

    @Test func removeJobTakesEveryAttemptAndNothingOutside() throws {
        write(try artifacts.slot(job: "job_d", attempt: 1, fileExtension: "gguf").path)
        write(try artifacts.slot(job: "job_d", attempt: 2, fileExtension: "gguf").path)
        let other = try artifacts.slot(job: "job_e", attempt: 1, fileExtension: "gguf")
        write(other.path)
        artifacts.removeJob("job_d")
        artifacts.removeJob("..")
        artifacts.removeJob("")
        #expect(!FileManager.default.fileExists(atPath: data.artifacts + "/job_d"))
        #expect(FileManager.default.fileExists(atPath: other.path) && FileManager.default.fileExists(atPath: data.blobs))
    }

    @Test func orphansAreArtifactsNoRowNames() throws {
        let named = try artifacts.slot(job: "job_f", attempt: 1, fileExtension: "gguf")
        let orphan = try artifacts.slot(job: "job_g", attempt: 1, fileExtension: "gguf")
        write(named.path)
        write(orphan.path)
        #expect(data.removeOrphans(referenced: [named.path], olderThan: 3600).isEmpty)  // too young on a shared directory
        #expect(data.removeOrphans(referenced: [named.path]) == [orphan.path])
        #expect(FileManager.default.fileExists(atPath: named.path))
        #expect(!FileManager.default.fileExists(atPath: data.artifacts + "/job_g"))
    }
}
