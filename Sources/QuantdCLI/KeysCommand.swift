import ArgumentParser
import Foundation
import QuantService
import QuantStore

/// `quantd keys create --tenant T` / `quantd keys revoke PREFIX`.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Create and revoke API keys.", subcommands: [Create.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key for a tenant (created if new); prints the key once.")
        @OptionGroup var data: DataOptions
        @Option(help: "Tenant name.") var tenant: String

        func run() throws {
            let store = try data.openStore()
            let record = try store.createTenant(name: tenant)
            print(try store.createKey(tenantID: record.id).plaintext)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke the keys that start with PREFIX (at least 8 characters).")
        @OptionGroup var data: DataOptions
        @Argument(help: "The start of the key, e.g. qs_abcdefgh.") var prefix: String

        func run() throws {
            let store = try data.openStore()
            let count = try store.revokeKeys(prefix: prefix)
            print("revoked \(count) key\(count == 1 ? "" : "s")")
            if count == 0 { throw ExitCode(1) }
        }
    }
}
