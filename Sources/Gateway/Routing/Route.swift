import GatewayCore
import NIOHTTP1

/// One compiled route: its conditions and how it rewrites the path. Immutable, shared by every
/// event loop through the route table snapshot.
package final class Route: Sendable {
    package let name: String
    /// Index of the service in the snapshot.
    package let serviceIndex: Int
    /// Allowed methods; nil allows all.
    let methods: Set<String>?
    let hosts: [HostPattern]
    let headers: [HeaderCondition]
    let query: [QueryCondition]
    package let stripPath: Bool
    package let rewritePrefix: String?
    package let preserveHost: Bool
    /// 0: no limit.
    package let maxBodyBytes: Int
    /// How many of method/host/header/query conditions this route sets: more wins a tie.
    let specificity: Int
    /// Position in the config, the last tie-breaker (and the index of the route's policy chain).
    package let order: Int
    /// Position among its service's routes.
    package let indexInService: Int

    init(config: RouteConfig, name: String, serviceIndex: Int, indexInService: Int, order: Int, serverMaxBody: Int) {
        self.name = name
        self.indexInService = indexInService
        self.serviceIndex = serviceIndex
        self.methods = config.methods.isEmpty ? nil : Set(config.methods)
        self.hosts = config.hosts.map(HostPattern.init)
        self.headers = config.headers.map { c in
            HeaderCondition(name: c.name, values: c.values.map { ValuePattern($0, caseInsensitive: true) })
        }
        self.query = config.query.map { c in
            QueryCondition(name: c.name, values: c.values.map { ValuePattern($0, caseInsensitive: false) })
        }
        self.stripPath = config.stripPath
        self.rewritePrefix = config.rewritePrefix
        self.preserveHost = config.preserveHost
        self.maxBodyBytes = config.maxBodyBytes > 0 ? config.maxBodyBytes : serverMaxBody
        self.specificity = (methods == nil ? 0 : 1) + (hosts.isEmpty ? 0 : 1) + headers.count + query.count
        self.order = order
    }

    /// Whether everything but the path and the method matches.
    func matchesConditions(_ request: RouteRequest) -> Bool {
        if !hosts.isEmpty {
            guard let host = request.host, hosts.contains(where: { $0.matches(host) }) else { return false }
        }
        for h in headers where !h.matches(request.headers) { return false }
        if !query.isEmpty {
            let parsed = QueryString.parse(request.query ?? "")
            for q in query where !q.matches(parsed) { return false }
        }
        return true
    }

    func allows(_ method: HTTPMethod) -> Bool { methods?.contains(method.rawValue) ?? true }

    /// The path to send upstream, before the target's base path: `path` is the normalized
    /// request path and `matchedLength` how much of it the route's path matched as a prefix.
    func upstreamPath(_ path: Substring, matchedLength: Int) -> String {
        guard stripPath || rewritePrefix != nil else { return String(path) }
        let rest = path.utf8.dropFirst(matchedLength)
        let restString = Substring(rest)
        let prefix = rewritePrefix ?? "/"
        if restString.isEmpty { return prefix }
        if prefix.hasSuffix("/") {
            return restString.hasPrefix("/") ? prefix + restString.dropFirst() : prefix + restString
        }
        return restString.hasPrefix("/") ? prefix + restString : prefix + "/" + restString
    }
}

/// What the router looks at: parsed once per request from the head.
package struct RouteRequest {
    package var method: HTTPMethod
    /// Normalized path, without the query.
    package var path: Substring
    package var query: Substring?
    package var headers: HTTPHeaders

    /// The `Host` header, lower-cased, without the port. Computed when asked: only routes with
    /// host conditions pay for it, not every request.
    package var host: Substring? {
        guard let rawHost = headers.first(name: "host") else { return nil }
        var h = Substring(rawHost.lowercased())
        if h.hasPrefix("[") {
            if let close = h.firstIndex(of: "]") { h = h[...close] }
        } else if let colon = h.lastIndex(of: ":") {
            h = h[..<colon]
        }
        return h
    }

    /// Nil when the path must be refused (see `PathNormalizer`).
    package init?(method: HTTPMethod, uri: String, headers: HTTPHeaders, escapedSlashes: EscapedSlashes = .reject) {
        self.method = method
        self.headers = headers
        let rawPath: Substring
        if let q = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            rawPath = uri[..<q]
            self.query = uri[uri.index(after: q)...]
        } else {
            rawPath = uri[...]
            self.query = nil
        }
        guard let path = PathNormalizer.normalize(rawPath, escapedSlashes: escapedSlashes) else { return nil }
        self.path = path
    }
}
