import ArgumentParser
import JSON
import ModelFormats
import QuantCore

/// `quantctl presets`: the presets and what they do.
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "presets", abstract: "List the quantization presets.")

    @Flag(help: "Print the presets' recipes as JSON.")
    var json = false

    func run() throws {
        if json {
            let object = JSONObject(Preset.all.map { ($0.name, JSONValue.object($0.recipe)) })
            print(JSONValue.object(object).serialized)
            return
        }
        let table = TextTable(
            headers: ["preset", "output", "what it does"],
            rows: Preset.all.map { [$0.name, $0.recipe["output"]?.objectValue?["format"]?.stringValue ?? "", $0.summary] })
        print(table.render(), terminator: "")
    }
}
