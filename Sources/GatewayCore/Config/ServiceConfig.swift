/// A named upstream and the routes that lead to it (Kong's service).
package struct ServiceConfig: Sendable {
    /// Unique name; appears in logs and metrics.
    package var name: String = ""
    package var upstream = UpstreamConfig()
    package var routes: [RouteConfig] = []
    /// Policies for every route of the service; they run before the route's own.
    package var policies: [PolicyConfig] = []

    package init() {}
}

/// Which requests reach a service, and how their path changes on the way.
package struct RouteConfig: Sendable {
    /// Unique name; defaults to `<service>.<index>`.
    package var name: String = ""
    /// Paths: `/api` (prefix, on segment boundaries), `=/api/health` (exact), `~^/users/\d+$`
    /// (regex). Empty: every path (as a prefix `/`).
    package var paths: [String] = []
    /// Allowed methods; empty allows all.
    package var methods: [String] = []
    /// Hosts: `api.example.com` or `*.example.com` (any subdomain, not the apex); empty: any.
    package var hosts: [String] = []
    /// Header conditions: the request must carry one of the values (case-insensitive), or match
    /// a value written `~regex`.
    package var headers: [(name: String, values: [String])] = []
    /// Query parameter conditions, as for headers (case-sensitive values).
    package var query: [(name: String, values: [String])] = []
    /// Remove the matched path prefix before forwarding. Default false: the upstream sees the
    /// path the client sent, which needs no explaining.
    package var stripPath: Bool = false
    /// Replace the matched prefix with this one (`/v1` -> `/internal/v1`). Default none.
    package var rewritePrefix: String?
    /// Send the client's Host header upstream instead of the target's. Default false.
    package var preserveHost: Bool = false
    /// Largest request body on this route; 0 means the server's limit. Larger bodies get 413.
    package var maxBodyBytes: Int = 0
    /// Policies for this route, after the service's.
    package var policies: [PolicyConfig] = []

    package init() {}
}
