import CCurl
import Foundation
import ModelFormats

/// The state curl's C callbacks reach through their context pointer during one transfer: the body
/// being sent, where the answer goes, the header fields seen. Only curl's thread touches it, and
/// only inside `curl_easy_perform`.
final class TransferContext {
    private let request: CurlRequest
    private let maxMemoryBody: Int
    private let progress: (@Sendable (TransferProgress) -> Void)?
    /// The request body from memory, or the file it streams from.
    private var bytes: [UInt8] = []
    private var sent = 0
    private var upload: FileHandle?
    private var tar: TarStream?
    let uploadSize: Int64
    /// The response file (for `.file` sinks), opened on the first 2xx body byte.
    private var download: FileHandle?
    private(set) var headers: [(name: String, value: String)] = []
    private(set) var memory: [UInt8] = []
    private var status = 0
    /// The first failure inside a callback; curl is told to stop and this is thrown afterwards.
    private(set) var error: ClientError?

    init(request: CurlRequest, options: ClientOptions, progress: (@Sendable (TransferProgress) -> Void)?) throws {
        self.request = request
        self.progress = progress
        maxMemoryBody = options.maxMemoryBody
        switch request.body {
        case .none:
            uploadSize = 0
        case .bytes(let body):
            bytes = body
            uploadSize = Int64(body.count)
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw ClientError.file("cannot open \(path) for reading")
            }
            upload = handle
            do {
                uploadSize = Int64(try handle.seekToEnd())
                try handle.seek(toOffset: 0)
            } catch {
                throw ClientError.file("cannot read \(path): \(error.localizedDescription)")
            }
        case .tar(let directory, let files):
            let stream: TarStream
            do { stream = try TarStream(directory: directory, files: files) } catch let error as FormatError {
                throw ClientError.file(error.message)
            }
            tar = stream
            uploadSize = stream.length
        }
    }

    func close() {
        try? upload?.close()
        try? download?.close()
        upload = nil
        download = nil
    }

    /// Read callback: fills curl's buffer with the next body bytes; 0 ends the body.
    func send(_ buffer: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
        if let tar {
            do { return try tar.read(into: UnsafeMutableRawPointer(buffer), capacity: capacity) } catch let error as FormatError {
                return fail(.file(error.message), abort: Int(CURL_READFUNC_ABORT))
            } catch {
                return fail(.file("reading the upload failed: \(error.localizedDescription)"), abort: Int(CURL_READFUNC_ABORT))
            }
        }
        if let upload {
            do {
                guard let chunk = try upload.read(upToCount: capacity), !chunk.isEmpty else { return 0 }
                chunk.copyBytes(to: UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: chunk.count)
                return chunk.count
            } catch {
                return fail(.file("reading the upload failed: \(error.localizedDescription)"), abort: Int(CURL_READFUNC_ABORT))
            }
        }
        let count = min(capacity, bytes.count - sent)
        guard count > 0 else { return 0 }
        UnsafeMutableRawBufferPointer(start: buffer, count: count).copyBytes(from: bytes[sent..<sent + count])
        sent += count
        return count
    }

    /// Write callback: body bytes of the response. Returning fewer than given makes curl stop.
    func receive(_ buffer: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        let data = UnsafeRawBufferPointer(start: buffer, count: count)
        if case .file(let path) = request.sink, (200..<300).contains(status) {
            do {
                if download == nil {
                    if !FileManager.default.fileExists(atPath: path) {
                        _ = FileManager.default.createFile(atPath: path, contents: nil)
                    }
                    guard let handle = FileHandle(forWritingAtPath: path) else {
                        return fail(.file("cannot open \(path) for writing"), abort: 0)
                    }
                    _ = try handle.seekToEnd()
                    download = handle
                }
                try download?.write(contentsOf: data)
                return count
            } catch {
                return fail(.file("writing \(path) failed: \(error.localizedDescription)"), abort: 0)
            }
        }
        guard memory.count + count <= maxMemoryBody else {
            return fail(.invalidResponse("the server's answer exceeds \(maxMemoryBody) bytes"), abort: 0)
        }
        memory.append(contentsOf: data)
        return count
    }

    /// Header callback: one line at a time. A status line starts a new response (after a
    /// `100 Continue` or a redirect), so the fields collected so far are dropped.
    func header(_ buffer: UnsafeMutablePointer<CChar>, _ count: Int) {
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: count), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            headers = []
            let parts = line.split(separator: " ")
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }

    func report(_ value: TransferProgress) {
        progress?(value)
    }

    private func fail(_ error: ClientError, abort: Int) -> Int {
        if self.error == nil { self.error = error }
        return abort
    }

    // MARK: - curl's C callbacks: the context arrives as the opaque pointer set with the callback.

    private static func of(_ pointer: UnsafeMutableRawPointer) -> TransferContext {
        Unmanaged<TransferContext>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// CURLOPT_WRITEFUNCTION: body bytes received.
    static let receiveCallback: ccurl_data_callback = { buffer, size, count, context in
        guard let buffer, let context else { return 0 }
        return of(context).receive(buffer, size * count)
    }

    /// CURLOPT_HEADERFUNCTION: one header line received.
    static let headerCallback: ccurl_data_callback = { buffer, size, count, context in
        guard let buffer, let context else { return 0 }
        of(context).header(buffer, size * count)
        return size * count
    }

    /// CURLOPT_READFUNCTION: room for request body bytes.
    static let sendCallback: ccurl_data_callback = { buffer, size, count, context in
        guard let buffer, let context else { return Int(CURL_READFUNC_ABORT) }
        return of(context).send(buffer, size * count)
    }

    /// CURLOPT_XFERINFOFUNCTION: transfer totals so far.
    static let progressCallback: ccurl_progress_callback = { context, downloadTotal, downloaded, uploadTotal, uploaded in
        guard let context else { return 0 }
        of(context).report(
            TransferProgress(
                uploaded: Int64(uploaded), uploadTotal: Int64(uploadTotal), downloaded: Int64(downloaded),
                downloadTotal: Int64(downloadTotal)))
        return 0
    }
}
