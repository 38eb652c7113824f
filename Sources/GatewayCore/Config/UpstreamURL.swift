/// A parsed upstream target address.
package struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    package enum Scheme: String, Sendable {
        case http, https
        /// Served inside the gateway (`builtin:echo`).
        case builtin
    }

    package var scheme: Scheme
    package var host: String
    package var port: Int
    /// Path prefix put before the forwarded path; empty for none.
    package var basePath: String

    package var description: String {
        scheme == .builtin ? "builtin:\(host)" : "\(scheme.rawValue)://\(hostForHeader)\(basePath)"
    }

    /// `host:port`, with IPv6 literals bracketed, as the Host header wants it.
    package var hostForHeader: String {
        if scheme == .builtin { return host }
        let h = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        let defaultPort = scheme == .https ? 443 : 80
        return port == defaultPort ? h : "\(h):\(port)"
    }

    /// The names `builtin:` accepts.
    package static let builtins: Set<String> = ["echo"]

    /// Parses `http://host[:port][/base]`, `https://...` or `builtin:NAME`; a reason when it is
    /// not one of those. (HTTP/2 upstreams are not supported yet: `h2c://` is refused rather than
    /// spoken to in HTTP/1.1.)
    package static func parse(_ text: String) -> Result<UpstreamURL, ParseError> {
        if text.hasPrefix("builtin:") {
            let name = String(text.dropFirst("builtin:".count))
            guard builtins.contains(name) else { return .failure(ParseError("unknown builtin \"\(name)\" (known: echo)")) }
            return .success(UpstreamURL(scheme: .builtin, host: name, port: 0, basePath: ""))
        }
        guard let sep = text.range(of: "://") else { return .failure(ParseError("must look like http://host:port")) }
        let schemeText = String(text[..<sep.lowerBound]).lowercased()
        guard let scheme = Scheme(rawValue: schemeText), scheme != .builtin else {
            return .failure(ParseError("unsupported scheme \"\(schemeText)\" (use http or https)"))
        }
        var rest = text[sep.upperBound...]
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        if path.contains("?") || path.contains("#") { return .failure(ParseError("must not have a query or fragment")) }
        while path.hasSuffix("/") { path.removeLast() }
        guard let hp = HostPort.parse(String(rest), defaultPort: scheme == .https ? 443 : 80) else {
            return .failure(ParseError("has no valid host[:port]"))
        }
        return .success(UpstreamURL(scheme: scheme, host: hp.host, port: hp.port, basePath: path))
    }

    package struct ParseError: Error, Sendable, CustomStringConvertible {
        package var reason: String
        init(_ reason: String) { self.reason = reason }
        /// The reason alone, as config problems print it.
        package var description: String { reason }
    }
}

/// `host:port`, `[v6]:port` or `host` with a default port.
package struct HostPort: Sendable, Hashable {
    package var host: String
    package var port: Int

    package static func parse(_ text: String, defaultPort: Int? = nil) -> HostPort? {
        var host = Substring(text)
        var portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(" ") else { return nil }
        let port: Int
        if let portText {
            guard let p = Int(portText), (0...65_535).contains(p) else { return nil }
            port = p
        } else {
            guard let defaultPort else { return nil }
            port = defaultPort
        }
        return HostPort(host: String(host), port: port)
    }
}
