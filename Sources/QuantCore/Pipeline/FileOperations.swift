import Foundation

func renameReplacing(_ from: String, _ to: String) throws {
    guard rename(from, to) == 0 else {
        throw PipelineError.output("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))")
    }
}

func removeFile(_ path: String) throws {
    try FileManager.default.removeItem(atPath: path)
}
