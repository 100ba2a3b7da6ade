import ArgumentParser

/// The `quantctl` root command. Subcommands live one per file in this module; the executable target
/// is a thin `main` that calls `QuantCtl.main()`.
public struct QuantCtl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "quantctl",
        abstract: "Inspect, quantize and manage model weights with QuantService.",
        discussion: """
            Exit codes: 0 success, 1 user error (bad arguments, malformed file or recipe, \
            unknown id, bad key), 2 server or job failure, 3 network error.

            Remote commands (models, jobs, quantize --server) find the server in --server or \
            $QUANT_SERVER (default http://127.0.0.1:8080) and the key in --api-key, \
            $QUANT_API_KEY, --api-key-file, $QUANT_API_KEY_FILE, then ./data/admin.key.
            """,
        version: QuantServiceVersion.current,
        subcommands: [
            InspectCommand.self, QuantizeCommand.self, EvaluateCommand.self, ImatrixCommand.self, QATCommand.self,
            DequantizeCommand.self, PresetsCommand.self, ModelsCommand.self, DatasetsCommand.self, JobsCommand.self,
            HealthCommand.self,
        ]
    )

    public init() {}
}

public enum QuantServiceVersion {
    public static let current = "0.1.0"
}
