import CCurl
import Foundation

/// curl's global state is set up exactly once, before the first handle: a Swift global is
/// initialised lazily and thread-safely, which is what curl_global_init requires.
private let curlGlobalInit: CURLcode = curl_global_init(3)  // CURL_GLOBAL_ALL (SSL | WIN32)

/// Runs one `CurlRequest` on its own easy handle (one handle per transfer: no state shared between
/// threads, so the client is safe to use from any number of them).
enum CurlTransfer {
    static func perform(_ request: CurlRequest, options: ClientOptions, progress: (@Sendable (TransferProgress) -> Void)?) throws
        -> CurlResponse
    {
        guard curlGlobalInit == CURLE_OK else {
            throw ClientError.network(code: Int(curlGlobalInit.rawValue), message: "curl_global_init failed")
        }
        guard let handle = curl_easy_init() else {
            throw ClientError.network(code: -1, message: "curl_easy_init failed (out of memory)")
        }
        defer { curl_easy_cleanup(handle) }

        let context = try TransferContext(request: request, options: options, progress: progress)
        defer { context.close() }
        let unmanaged = Unmanaged.passRetained(context)
        defer { unmanaged.release() }
        let pointer = unmanaged.toOpaque()

        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }

        var setup = SetupErrors()
        setup.check(ccurl_setopt_string(handle, CURLOPT_URL, request.url), "URL")
        setup.check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        setup.check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout * 1000)), "CONNECTTIMEOUT")
        if let total = request.totalTimeout {
            setup.check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(total * 1000)), "TIMEOUT")
        }
        // A transfer that moves less than 1 byte/s for the stall time is dead.
        setup.check(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1), "LOW_SPEED_LIMIT")
        setup.check(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(options.stallTimeout))), "LOW_SPEED_TIME")
        setup.check(ccurl_setopt_string(handle, CURLOPT_USERAGENT, options.userAgent), "USERAGENT")
        setup.check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer), "WRITEDATA")
        setup.check(ccurl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, TransferContext.receiveCallback), "WRITEFUNCTION")
        setup.check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer), "HEADERDATA")
        setup.check(ccurl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, TransferContext.headerCallback), "HEADERFUNCTION")
        if progress != nil {
            setup.check(ccurl_setopt_long(handle, CURLOPT_NOPROGRESS, 0), "NOPROGRESS")
            setup.check(ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, pointer), "XFERINFODATA")
            setup.check(ccurl_setopt_progress_callback(handle, TransferContext.progressCallback), "XFERINFOFUNCTION")
        }
        switch request.method {
        case "GET": break
        case "HEAD": setup.check(ccurl_setopt_long(handle, CURLOPT_NOBODY, 1), "NOBODY")
        case "POST", "PUT", "PATCH":
            // Every body, even an empty one, goes through the read callback: without one, curl
            // would read the request body from stdin.
            setup.check(ccurl_setopt_long(handle, CURLOPT_POST, 1), "POST")
            if request.method != "POST" {
                setup.check(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
            }
            setup.check(ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(context.uploadSize)), "POSTFIELDSIZE")
            setup.check(ccurl_setopt_pointer(handle, CURLOPT_READDATA, pointer), "READDATA")
            setup.check(ccurl_setopt_data_callback(handle, CURLOPT_READFUNCTION, TransferContext.sendCallback), "READFUNCTION")
        default: setup.check(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
        }
        setup.check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), "HTTPHEADER")
        if let failed = setup.failed { throw ClientError.network(code: -1, message: "curl rejected option \(failed)") }

        let code = curl_easy_perform(handle)
        if let error = context.error { throw error }
        guard code == CURLE_OK else {
            throw ClientError.network(code: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)))
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return CurlResponse(status: status, headers: context.headers, body: context.memory)
    }

    /// The first option curl refused, if any (checked once after set-up).
    private struct SetupErrors {
        var failed: String?
        mutating func check(_ code: CURLcode, _ option: String) {
            if code != CURLE_OK, failed == nil { failed = "\(option): \(String(cString: curl_easy_strerror(code)))" }
        }
    }
}
