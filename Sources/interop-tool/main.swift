// interop-tool: a developer tool for Tests/Interop. It exposes our readers, writers and numeric
// conversions to the Python tests so the PyPI reference packages can check them. Not shipped.
import Foundation
import ModelFormats

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    try InteropCommands.run(arguments)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
