import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The MCP gate: one Streamable HTTP endpoint (`mcp.path`, and each virtual server's path) for
/// agents, over many upstream MCP servers. Mounted on the data-plane listener beside the API and
/// AI gates. Upstream servers outlive reloads that leave their config unchanged (a local
/// program keeps running); agent sessions outlive every reload. As a `Service`, it shuts the
/// upstreams down (local programs stopped, remote sessions ended) when the gateway stops.
package final class MCPGate: MountableGate, Service {
    private let core: CoreServices
    private let loops: LoopContexts
    private let logger = Logger(label: "triplegate.mcp")
    private let sessions: SessionTable
    package let audit: AuditLog
    package let pins: ToolPins
    /// Which tool each exposed name belongs to, kept across reloads.
    package let names: ToolNameBook
    private let mounted = NIOLockedValueBox<[MCPGateLoop]>([])
    private let current: NIOLockedValueBox<MCPSnapshot?>
    /// Servers by name, with the config they were made from.
    private let upstreams = NIOLockedValueBox<[String: (key: String, server: UpstreamServer)]>([:])
    /// Upstream messages nobody may receive, counted.
    private let drops: UpstreamDrops
    /// The gate's work nobody waits for (retired servers' shutdowns, eager starts, notices,
    /// restarts of local programs), finished or cancelled before `run` returns.
    private let background = BackgroundTasks()

    package init(config: GatewayConfig, loops: LoopContexts, core: CoreServices, audit: AuditLog? = nil, pins: ToolPins = .inMemory(),
                names: ToolNameBook = .inMemory()) {
        self.core = core
        self.loops = loops
        self.audit = audit ?? AuditLog(db: nil)
        self.pins = pins
        self.names = names
        pins.use(registry: core.metrics.registry)
        drops = UpstreamDrops(registry: core.metrics.registry, servers: config.mcp?.servers.map(\.name) ?? [])
        sessions = SessionTable(idle: config.mcp?.sessionIdle ?? .seconds(1800), capacity: config.mcp?.maxSessions ?? 10_000,
                                perPrincipal: config.mcp?.maxSessionsPerPrincipal ?? 100,
                                gauge: core.metrics.registry.makeGauge(descriptor: .init(metricName: "triplegate_mcp_sessions", unitName: "", helpText: "Open MCP sessions"), labels: []),
                                evicted: core.metrics.registry.makeCounter(descriptor: .init(
                                    metricName: "triplegate_mcp_sessions_evicted", unitName: "total",
                                    helpText: "MCP sessions ended because their principal opened more than its quota"), labels: []))
        current = NIOLockedValueBox(nil)
        prepared(config).publish()
    }

    /// The upstream servers for `config`, reusing those whose config is unchanged; the others
    /// are made (and eager programs started), and those no longer named are shut down.
    private func prepared(_ config: GatewayConfig) -> Prepared {
        guard let mcp = config.mcp else { return Prepared(gate: self, snapshot: nil, servers: [], made: []) }
        // Servers are made here but registered (and eager ones started) only when published,
        // so a reload another gate refuses leaves the upstreams as they were.
        var made: [(key: String, server: UpstreamServer)] = []
        let known = upstreams.withLockedValue { $0 }
        let servers: [(name: String, key: String, server: UpstreamServer)] = mcp.servers.map { configured in
            // The gate's bounds, where the server sets none of its own.
            var s = configured
            s.timeout = s.timeout ?? mcp.timeout
            s.stallTimeout = s.stallTimeout ?? mcp.stallTimeout
            let key = Self.key(s, timeout: mcp.timeout)
            if let existing = known[s.name], existing.key == key { return (s.name, key, existing.server) }
            let server = makeServer(s, timeout: mcp.timeout)
            made.append((key, server))
            return (s.name, key, server)
        }
        let snapshot = MCPSnapshot(config: config, mcp: mcp, servers: servers.map(\.server), sessions: sessions, audit: audit, pins: pins, names: names,
                                   core: core, logger: logger)
        return Prepared(gate: self, snapshot: snapshot, servers: servers, made: made.map(\.server))
    }

    /// A compiled `mcp:` section and the upstream servers it uses.
    private struct Prepared: PreparedGate {
        let gate: MCPGate
        let snapshot: MCPSnapshot?
        let servers: [(name: String, key: String, server: UpstreamServer)]
        /// The servers made for this config (the others are kept from the previous one).
        let made: [UpstreamServer]

        func publish() {
            let previous = gate.current.withLockedValue { current in
                defer { current = snapshot }
                return current?.dispatcher.ordered ?? []
            }
            gate.upstreams.withLockedValue { all in
                all = Dictionary(servers.map { ($0.name, (key: $0.key, server: $0.server)) }, uniquingKeysWith: { first, _ in first })
            }
            let live = Set(servers.map { ObjectIdentifier($0.server) })
            for s in previous where !live.contains(ObjectIdentifier(s)) {
                gate.background.spawn { await s.shutdown() }
            }
            let loop = gate.loops.all[0]
            for s in made where s.config.start == .eager {
                gate.background.spawn { _ = try? await s.ready(loop: loop) }
            }
        }

        func install(on loop: LoopContext) {
            for state in gate.mounted.withLockedValue({ $0 }) where state.loop.index == loop.index {
                state.snapshot = snapshot
            }
        }
    }

    /// The server for `s`; with `sessions: per_client`, it can make copies with channels of
    /// their own, one per agent session.
    private func makeServer(_ s: MCPServerConfig, timeout: Duration) -> UpstreamServer {
        guard s.sessionMode == .perClient else { return makeServer(s, timeout: timeout, perClient: nil) }
        let loops = self.loops, logger = self.logger
        return makeServer(s, timeout: timeout, perClient: { [drops, background] in
            Self.makeServer(s, timeout: timeout, perClient: nil, loops: loops, logger: logger, drops: drops, background: background)
        })
    }

    private func makeServer(_ s: MCPServerConfig, timeout: Duration, perClient: (@Sendable () -> UpstreamServer)?) -> UpstreamServer {
        Self.makeServer(s, timeout: timeout, perClient: perClient, loops: loops, logger: logger, drops: drops, background: background)
    }

    private static func makeServer(_ s: MCPServerConfig, timeout: Duration, perClient: (@Sendable () -> UpstreamServer)?, loops: LoopContexts,
                                   logger: Logger, drops: UpstreamDrops, background: BackgroundTasks) -> UpstreamServer {
        let channel: any UpstreamChannel
        let sink = UnsolicitedSink()
        let unsolicited: UnsolicitedMessages = { sink.deliver($0) }
        switch s.transport {
        case .stdio:
            channel = StdioChannel(name: s.name, command: s.command, environment: s.env, eager: s.start == .eager, loop: loops.all[0].eventLoop,
                                   logger: logger, background: background, unsolicited: unsolicited)
        case .streamableHTTP:
            // Validated: a server with a url has a parseable one.
            let url = try! UpstreamURL.parse(s.url ?? "").get()
            channel = StreamableHTTPChannel(url: url, headers: s.headers, loops: loops, logger: logger, unsolicited: unsolicited,
                                            afterAnswer: { [name = s.name] _ in drops.count(server: name, reason: .afterAnswer) })
        case .sse:
            let url = try! UpstreamURL.parse(s.url ?? "").get()
            channel = SSEChannel(url: url, headers: s.headers, logger: logger, unsolicited: unsolicited)
        }
        let server = UpstreamServer(config: s, channel: channel, defaultTimeout: timeout, loop: loops.all[0], logger: logger, drops: drops,
                                    background: background, perClient: perClient)
        sink.set { [weak server] m in server?.unsolicited(m) }
        return server
    }

    /// Shuts down servers not in `names` (removed, or replaced by a changed config).
    static func key(_ s: MCPServerConfig, timeout: Duration) -> String {
        "\(s.url ?? "")|\(s.transport.rawValue)|\(s.command)|\(s.env.map { "\($0.0)=\($0.1)" })|\(s.headers.map { "\($0.0)=\($0.1)" })|\(s.start.rawValue)|\(s.timeout ?? timeout)|\(s.stallTimeout.map { "\($0)" } ?? "-")"
    }

    package func mount(on loop: LoopContext) -> MountedGate {
        let state = MCPGateLoop(loop: loop, snapshot: current.withLockedValue { $0 })
        mounted.withLockedValue { $0.append(state) }
        return state
    }

    package func prepare(_ config: GatewayConfig) throws -> any PreparedGate { prepared(config) }

    /// Approves a changed tool definition and lists again, so a quarantined tool comes back.
    package func approve(server: String, tool: String) async -> Bool {
        guard await pins.approve(server: server, tool: tool) else { return false }
        current.withLockedValue { $0 }?.catalog.invalidate(.tools)
        return true
    }

    /// Drops idle sessions (every quarter of the idle time, at most every 30 s) until the
    /// gateway stops; then lets the gate's background work finish (5 s at most, then it is
    /// cancelled), stops the upstreams, and waits for the pins and names still being written.
    package func run() async throws {
        let sessions = self.sessions
        let interval = Duration.nanoseconds(min(sessions.idleNanos / 4, 30_000_000_000))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    sessions.sweep(now: Int64(NIODeadline.now().uptimeNanoseconds))
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await background.close(grace: .seconds(5))
        let servers = upstreams.withLockedValue { $0.values.map(\.server) }
        await withTaskGroup(of: Void.self) { group in
            for s in servers { group.addTask { await s.shutdown() } }
        }
        await pins.writes.close(grace: .seconds(5))
        await names.writes.close(grace: .seconds(5))
    }
}

/// The MCP gate on one event loop.
final class MCPGateLoop: MountedGate, @unchecked Sendable {
    // @unchecked: `snapshot` is read and written only on `loop.eventLoop`.
    let loop: LoopContext
    var snapshot: MCPSnapshot?

    init(loop: LoopContext, snapshot: MCPSnapshot?) {
        self.loop = loop
        self.snapshot = snapshot
    }

    func claim(_ head: HTTPRequestHead, path: Substring) -> MountedRoute? {
        guard let snapshot else { return nil }
        let route = String(path)
        if snapshot.paths[route] != nil {
            return mounted(snapshot, route: route, metrics: route, head: head) { request, client in
                MCPEndpoint(client: client, request: request, snapshot: snapshot)
            }
        }
        // RFC 9728: public, so it runs no policies.
        if let oauth = snapshot.oauth, route.hasPrefix(MCPSnapshot.wellKnown) {
            let resourcePath = route == MCPSnapshot.wellKnown ? snapshot.mainPath : String(route.dropFirst(MCPSnapshot.wellKnown.count))
            guard snapshot.paths[resourcePath] != nil else { return nil }
            let resource = oauth.resource ?? ResourceMetadataEndpoint.origin(of: head, tls: snapshot.tls) + resourcePath
            let document = ResourceMetadataEndpoint.document(resource: resource, oauth: oauth)
            return MountedRoute(service: "mcp", route: MCPSnapshot.wellKnown, chain: PolicyChain([]), metrics: snapshot.metrics[resourcePath]!,
                                dialect: MCPErrorDialect(), maxBodyBytes: 0) { request, client in
                ResourceMetadataEndpoint(client: client, request: request, document: document)
            }
        }
        // The 2024-11-05 transport: `<path>/sse` and `<path>/messages`.
        if route.hasSuffix("/sse"), case let base = String(route.dropLast(4)), snapshot.paths[base] != nil {
            return mounted(snapshot, route: route, metrics: base, head: head) { request, client in
                LegacySSEEndpoint(client: client, request: request, snapshot: snapshot, basePath: base)
            }
        }
        if route.hasSuffix("/messages"), case let base = String(route.dropLast(9)), snapshot.paths[base] != nil {
            return mounted(snapshot, route: route, metrics: base, head: head) { request, client in
                MCPEndpoint(client: client, request: request, snapshot: snapshot, legacy: true)
            }
        }
        return nil
    }

    private func mounted(_ snapshot: MCPSnapshot, route: String, metrics: String, head: HTTPRequestHead,
                         start: @escaping (MountedRequest, ClientResponder) -> RequestExchange) -> MountedRoute {
        let dialect = MCPErrorDialect(resourceMetadata: snapshot.resourceMetadata(path: metrics, head: head))
        return MountedRoute(service: "mcp", route: route, chain: snapshot.chain, metrics: snapshot.metrics[metrics]!, dialect: dialect,
                            maxBodyBytes: snapshot.maxBodyBytes, start: start)
    }
}
