import NIOHTTP1

/// What a request to the admin listener must show before anything answers it, so that a web
/// page in an operator's browser cannot use the browser to reach it:
///
/// - **Host** (DNS rebinding): a page on `evil.example` that re-points its name at 127.0.0.1
///   sends `Host: evil.example`. Only IP literals, `localhost` (and `*.localhost`) and the
///   names in `admin.allowed_hosts` are accepted.
/// - **Origin** (a cross-site request): a browser names the page's origin on every POST and
///   every script request. A request with an `Origin` whose host is not the request's own
///   `Host`, or that the browser marks `Sec-Fetch-Site: cross-site`, is refused. Tools without
///   a browser (curl, the CLI, Prometheus) send neither header and are unaffected.
package enum AdminRequestCheck {
    /// Why the request is refused (403), or nil.
    package static func refusal(_ head: HTTPRequestHead, allowedHosts: Set<String>) -> String? {
        let hosts = head.headers["host"]
        guard hosts.count == 1, let host = hostName(hosts[0]) else {
            return head.version.major == 1 && head.version.minor == 0 && hosts.isEmpty ? nil : "Host must name this listener"
        }
        guard isIPLiteral(host) || host == "localhost" || host.hasSuffix(".localhost") || allowedHosts.contains(host) else {
            return "Host \"\(host)\" is not allowed (admin.allowed_hosts)"
        }
        if head.headers.first(name: "sec-fetch-site")?.lowercased() == "cross-site" {
            return "Cross-site requests are refused"
        }
        if let origin = head.headers.first(name: "origin") {
            // `null` (a sandboxed frame, a file) is as foreign as any other site.
            guard let scheme = origin.range(of: "://"), let originHost = hostName(String(origin[scheme.upperBound...])),
                originHost == host, hostName(hosts[0], keepPort: true) == hostName(String(origin[scheme.upperBound...]), keepPort: true)
            else {
                return "Cross-origin requests are refused"
            }
        }
        return nil
    }

    /// The lower-cased host of a `host[:port]` value (brackets kept off an IPv6 literal), with
    /// its port when asked; nil when it is not one.
    static func hostName(_ value: String, keepPort: Bool = false) -> String? {
        let lower = value.lowercased()
        guard RequestHeadCheck.isValidHost(lower) else { return nil }
        if keepPort { return lower }
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]") else { return nil }
            return String(lower[lower.index(after: lower.startIndex)..<close])
        }
        return String(lower.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0])
    }

    static func isIPLiteral(_ host: String) -> Bool {
        if host.contains(":") { return host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCII) && (Int(p).map { $0 <= 255 } ?? false) }
    }
}
