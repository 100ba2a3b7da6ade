import Foundation
import HTTPServer
import JSON
import ModelFormats
import QuantCore

/// The web console: one page and its script and style, compiled into the binary (no CDN, no
/// fonts, no build step), served without a key. The page signs in with an API key kept in
/// `sessionStorage` and calls the same API as every other client, so a tenant sees only its own
/// objects.
extension ServiceAPI {
    /// Everything the console serves, by path.
    static let consoleFiles: [String: (type: String, bytes: [UInt8])] = [
        "/ui/": ("text/html; charset=utf-8", Array(ConsoleAssets.html.utf8)),
        "/ui/console.js": ("text/javascript; charset=utf-8", Array(ConsoleAssets.script.utf8)),
        "/ui/console.css": ("text/css; charset=utf-8", Array(ConsoleAssets.style.utf8)),
        "/ui/presets.json": ("application/json", Array(presetsJSON.utf8)),
    ]

    /// The presets for the submit form, as the recipe parser knows them.
    static var presetsJSON: String {
        JSONValue.array(Preset.all.map { .object(JSONObject([("name", .string($0.name)), ("summary", .string($0.summary))])) })
            .serialized
    }

    /// The page may load only itself: scripts and styles from this server, requests to this server,
    /// no frames, no plugins, no inline script.
    static let consoleHeaders: [(name: String, value: String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
                + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cache-Control", "no-cache"),
    ]

    func addConsole(_ router: inout Router) {
        router.add(.get, "/") { _, _ in
            HTTPResponse(status: 302, headers: [("Location", "/ui/")] + Self.consoleHeaders)
        }
        for (path, file) in Self.consoleFiles {
            router.add(.get, path) { _, _ in
                HTTPResponse(status: 200, headers: [("Content-Type", file.type)] + Self.consoleHeaders, body: .bytes(file.bytes))
            }
        }
    }
}
