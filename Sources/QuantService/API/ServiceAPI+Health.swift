import Foundation
import HTTPServer
import ModelFormats
import QuantCore
import QuantStore

extension ServiceAPI {
    func addHealth(_ router: inout Router) {
        router.add(.get, "/healthz", inline: true) { _, _ in .json(200, #"{"status":"ok"}"#) }
        let store = store
        let data = data
        router.add(.get, "/readyz") { _, _ in
            let database = store.isHealthy()
            let writable = access(data.artifacts, W_OK) == 0 && access(data.tmp, W_OK) == 0
            let body =
                #"{"status":"\#(database && writable ? "ready" : "unavailable")","database":\#(database),"data_directory":\#(writable)}"#
            return .json(database && writable ? 200 : 503, body)
        }
        router.add(.get, "/metrics") { [self] _, _ in
            .text(
                200, metrics.render(store: store),
                contentType: "text/plain; version=0.0.4")
        }
    }
}
