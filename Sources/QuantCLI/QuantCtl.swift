import ArgumentParser

/// The `quantctl` root command. Subcommands live one per file in this module; the executable target
/// is a thin `main` that calls `QuantCtl.main()`.
public struct QuantCtl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "quantctl",
        abstract: "Inspect, quantize and manage model weights with QuantService.",
        discussion: """
            Exit codes: 0 success, 1 user error (bad arguments, malformed file or recipe), \
            2 server or job failure, 3 network error.
            """,
        version: QuantServiceVersion.current,
        subcommands: [InspectCommand.self, QuantizeCommand.self, DequantizeCommand.self, PresetsCommand.self]
    )

    public init() {}
}

public enum QuantServiceVersion {
    public static let current = "0.1.0"
}
