import GatewayCore
import Logging
import NIOCore
import NIOHTTP1

/// One config's MCP gate, compiled: its paths, policies, access rules and the dispatcher over
/// the upstream servers. Immutable and shared by every event loop.
final class MCPSnapshot: Sendable {
    /// `mcp.path` → nil (every tool), a virtual server's path → its patterns.
    let paths: [String: [Glob]?]
    /// `mcp.path`.
    let mainPath: String
    /// Authentication and request limits, run on every HTTP request before the body is read.
    let chain: PolicyChain
    let access: ToolAccess
    let allowedOrigins: Set<String>
    let dispatcher: MCPDispatcher
    let maxBodyBytes: Int
    let metrics: [String: RouteMetrics]
    let oauth: MCPOAuthConfig?
    /// Whether the listener speaks TLS (for URLs made from `Host`).
    let tls: Bool

    let catalog: Catalog

    init(config: GatewayConfig, mcp: MCPConfig, servers: [UpstreamServer], sessions: SessionTable, audit: AuditLog, pins: ToolPins, names: ToolNameBook,
         core: CoreServices, logger: Logger) {
        let environment = core.environment(for: config)
        var request: [any RequestPolicy] = []
        var perTool: [any RequestPolicy] = []
        for (i, p) in mcp.policies.enumerated() {
            let policy = core.policy(p, scope: "mcp#\(i)", route: "mcp", environment: environment)
            if case .rateLimit(let r) = p, r.by.contains(.resource) { perTool.append(policy) } else { request.append(policy) }
        }
        chain = PolicyChain(request)
        access = ToolAccess(mcp.access)
        var paths: [String: [Glob]?] = [mcp.path: nil]
        for v in mcp.virtualServers { paths[v.path] = v.tools.map(Glob.init) }
        self.paths = paths
        mainPath = mcp.path
        allowedOrigins = Set(mcp.allowedOrigins)
        oauth = mcp.oauth
        tls = config.server.tls != nil
        maxBodyBytes = config.server.limits.maxBodyBytes(gate: mcp.maxBodyBytes)
        metrics = Dictionary(uniqueKeysWithValues: paths.keys.map { ($0, core.metrics.route(service: "mcp", route: $0)) })
        let catalog = Catalog(servers: servers, naming: ToolNaming(separator: mcp.toolNames.separator, maxLength: mcp.toolNames.maxLength),
                              names: names, ttl: .seconds(60), pins: pins, pinning: mcp.pinning, logger: logger, registry: core.metrics.registry)
        self.catalog = catalog
        // A server's list change drops that list from the catalog and is passed on to every
        // agent with a stream open (their clients then list again).
        // A resource update goes to the agents subscribed to that URI.
        for server in servers {
            server.events.withLockedValue {
                $0 = { event in
                    switch event {
                    case .listChanged(let kind):
                        catalog.invalidate(kind)
                        let method = kind == .templates ? "resources" : kind.rawValue
                        sessions.broadcast(RPC.notification(method: "notifications/\(method)/list_changed", params: nil))
                    case .resourceUpdated(let uri, let message):
                        sessions.notifySubscribers(of: uri, message)
                    }
                }
            }
        }
        dispatcher = MCPDispatcher(servers: servers, catalog: catalog, access: access, toolLimits: PolicyChain(perTool), sessions: sessions,
                                   audit: audit, config: mcp, registry: core.metrics.registry, logger: logger)
    }

    static let wellKnown = "/.well-known/oauth-protected-resource"

    /// The metadata URL named in challenges on `path`, for a request that came with `head`.
    func resourceMetadata(path: String, head: HTTPRequestHead) -> String? {
        guard oauth != nil else { return nil }
        return ResourceMetadataEndpoint.origin(of: head, tls: tls) + Self.wellKnown + path
    }

    /// What `consumer` may see on `path`.
    func view(for consumer: Consumer?, path: String) -> AccessView {
        access.view(for: consumer, only: paths[path] ?? nil)
    }
}
