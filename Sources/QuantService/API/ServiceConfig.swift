import Foundation

/// Service-wide settings (flags and environment of quantd).
public struct ServiceConfig: Sendable {
    public var maxUploadBytes: Int64 = 64 << 30
    public var maxJSONBytes = 1 << 20
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    public var worker = WorkerSettings()
    public var maxAttempts = 3

    public init() {}
}
