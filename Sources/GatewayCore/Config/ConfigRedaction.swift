/// How secret-bearing config values are shown wherever config is shown (`GET /admin/config`,
/// `check --explain`, log lines): never in clear.
package enum ConfigRedaction {
    /// `http://user:secret@host` loses its credentials.
    package static func url(_ url: String) -> String {
        var out = url
        if let scheme = out.range(of: "://"), let at = out[scheme.upperBound...].prefix(while: { $0 != "/" }).lastIndex(of: "@") {
            out = String(out[..<scheme.upperBound]) + "[redacted]" + String(out[at...])
        }
        // A query carries tokens as often as user info does (`?key=...`).
        if let q = out.firstIndex(of: "?") { out = String(out[...q]) + "[redacted]" }
        return out
    }

    /// A URL whose path itself is the secret (a Slack or Teams webhook): only its scheme and
    /// host are shown.
    package static func wholeURL(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return "[redacted]" }
        let authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let host = authority.split(separator: "@").last.map(String.init) ?? ""
        return String(url[..<scheme.upperBound]) + host + "/[redacted]"
    }

    /// A command line's program, with its arguments redacted (they carry tokens: `--token X`).
    package static func command(_ argv: [String]) -> [JSONValue] {
        argv.enumerated().map { i, a in .string(i == 0 ? a : "[redacted]") }
    }
}
