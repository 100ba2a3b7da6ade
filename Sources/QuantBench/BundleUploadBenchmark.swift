import Foundation

/// Uploads of a checkpoint folder to a real quantd on 127.0.0.1 (release build), as multipart parts
/// and as a tar stream with curl, against the disk's own fsync'd write speed measured in the same
/// run on the same file system: the server streams, hashes, fsyncs and validates every file.
struct BundleUploadBenchmark {
    let quantd: String
    let root: String
    let checkpoint: String

    struct Result {
        var diskMBps: Double
        var multipartMBps: Double
        var tarMBps: Double
    }

    func run(progress: (String) -> Void) throws -> Result {
        let data = (root as NSString).appendingPathComponent("quantd-data")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: quantd)
        server.arguments = ["--port", "0", "--data-dir", data, "--workers", "1"]
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")), let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty {
            line += byte
        }
        guard
            let url = String(decoding: line, as: UTF8.self).split(separator: " ").last?.trimmingCharacters(
                in: .whitespacesAndNewlines),
            url.hasPrefix("http://")
        else { throw BenchmarkError("quantd did not start: \(String(decoding: line, as: UTF8.self))") }
        let key = try String(contentsOfFile: (data as NSString).appendingPathComponent("admin.key"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let files = try FileManager.default.contentsOfDirectory(atPath: checkpoint).sorted()
        let bytes = try files.reduce(0) { total, name in
            total
                + ((try FileManager.default.attributesOfItem(atPath: (checkpoint as NSString).appendingPathComponent(name))[.size]
                    as? Int) ?? 0)
        }
        progress("disk: write and fsync \(bytes >> 20) MiB under \(data)")
        let disk = try diskSeconds(bytes: bytes, directory: data)
        progress("upload as multipart (\(files.count) parts)")
        let parts = files.flatMap { ["-F", "file=@\($0)"] }
        let multipart = try timedShell(
            ["curl", "-sSf", "-o", "/dev/null", "-H", "Authorization: Bearer \(key)"] + parts + [
                "\(url)/v1/models?name=multipart"
            ])
        progress("upload as a tar stream")
        let tar = try timedShell([
            "bash", "-c",
            "tar -cf - -C . . | curl -sSf -o /dev/null -H 'Authorization: Bearer \(key)' -H 'Content-Type: application/x-tar' -T - -X POST '\(url)/v1/models?name=tar'",
        ])
        let mb = Double(bytes) / 1e6
        return Result(diskMBps: mb / disk, multipartMBps: mb / multipart, tarMBps: mb / tar)
    }

    /// 8 MiB writes of `bytes` to a new file, then fsync: what the disk takes, nothing else.
    func diskSeconds(bytes: Int, directory: String) throws -> Double {
        let path = (directory as NSString).appendingPathComponent("disk-speed")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let buffer = [UInt8](repeating: 7, count: 8 << 20)
        let start = Date()
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw BenchmarkError("cannot create \(path)")
        }
        var left = bytes
        while left > 0 {
            let count = Swift.min(left, buffer.count)
            try handle.write(contentsOf: buffer[0..<count])
            left -= count
        }
        try handle.synchronize()
        try handle.close()
        return Date().timeIntervalSince(start)
    }

    func timedShell(_ command: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = URL(fileURLWithPath: checkpoint)
        let start = Date()
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchmarkError("\(command.first ?? "") failed with status \(process.terminationStatus)")
        }
        return Date().timeIntervalSince(start)
    }
}
