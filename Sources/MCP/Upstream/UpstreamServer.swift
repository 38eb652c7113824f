import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One upstream MCP server as the gate uses it: a channel, the `initialize` handshake done once
/// per upstream session (again after the session expires or the program restarts), and ids of
/// our own for every request so that agents' ids never meet on a shared upstream session.
final class UpstreamServer: Sendable {
    /// What the handshake told us.
    struct Handshake: Sendable {
        var protocolVersion: String
        var capabilities: JSONValue
        var serverInfo: JSONValue?
        var instructions: String?
        /// The channel's generation it was made on.
        var generation: Int
    }

    private struct State {
        var handshake: Handshake?
        var starting: Task<Handshake, Error>?
        /// The handlers of the calls in flight, by our request id.
        var inFlight: [String: @Sendable (RPCMessage) -> Void] = [:]
    }

    let name: String
    let config: MCPServerConfig
    let channel: any UpstreamChannel
    /// Each call's deadline and stall limit (the server's own, else the gate's).
    let bounds: CallBounds
    private let state = NIOLockedValueBox(State())
    private let ids = NIOLockedValueBox(0)
    /// What a server says outside any call that the gate acts on.
    enum Event: Sendable {
        /// `notifications/{tools,prompts,resources}/list_changed`.
        case listChanged(Catalog.Kind)
        /// `notifications/resources/updated`, for the agents subscribed to `uri`.
        case resourceUpdated(uri: String, message: ByteBuffer)
    }

    /// Told of the server's events (the current snapshot listens).
    let events = NIOLockedValueBox<(@Sendable (Event) -> Void)?>(nil)
    private let loop: LoopContext
    private let logger: Logger
    /// Its messages no agent may receive, counted (one set of counters for the gate).
    let drops: UpstreamDrops
    /// Bounds what the server's log messages outside calls put in the gateway's log.
    private let serverLog = LogLineLimiter()
    /// The version the gate asks upstream servers for: the newest handshake-era revision, which
    /// both generations of the SDKs serve.
    static let requestedVersion = "2025-11-25"

    /// Makes another server like this one with a channel of its own: an agent session's own
    /// upstream session (`sessions: per_client`). Nil for shared servers.
    let perClient: (@Sendable () -> UpstreamServer)?
    /// The gate's work that nobody waits for (notices to the server, its shutdown when an
    /// agent session ends), finished or cancelled when the gate stops.
    let background: BackgroundTasks

    init(config: MCPServerConfig, channel: any UpstreamChannel, defaultTimeout: Duration, loop: LoopContext, logger: Logger,
         drops: UpstreamDrops, background: BackgroundTasks, perClient: (@Sendable () -> UpstreamServer)? = nil) {
        self.perClient = perClient
        self.background = background
        self.drops = drops
        self.loop = loop
        self.logger = logger
        self.name = config.name
        self.config = config
        self.channel = channel
        self.bounds = CallBounds(deadline: .nanoseconds((config.timeout ?? defaultTimeout).nanoseconds),
                                 stall: config.stallTimeout.map { .nanoseconds($0.nanoseconds) })
    }


    /// A fresh id (JSON text) for a request to this server.
    func nextID() -> String {
        String(ids.withLockedValue { $0 += 1; return $0 })
    }

    /// The handshake, made if not yet made (concurrent callers share one).
    func ready(loop: LoopContext) async throws -> Handshake {
        try await channel.prepare(loop: loop)
        let generation = channel.generation
        if let h = state.withLockedValue({ $0.handshake }), h.generation == generation { return h }
        let task: Task<Handshake, Error> = state.withLockedValue { s in
            if let t = s.starting { return t }
            let t = Task { try await self.handshake(loop: loop, generation: generation) }
            s.starting = t
            return t
        }
        do {
            let h = try await task.value
            state.withLockedValue { s in
                s.handshake = h
                s.starting = nil
            }
            return h
        } catch {
            state.withLockedValue { $0.starting = nil }
            throw error
        }
    }

    private func handshake(loop: LoopContext, generation: Int) async throws -> Handshake {
        let id = nextID()
        let params = JSONValue.object([
            ("protocolVersion", .string(Self.requestedVersion)),
            // What agents may answer is relayed to them, so the gate offers it upstream.
            ("capabilities", .object([("sampling", .object([])), ("elicitation", .object([])), ("roots", .object([("listChanged", .bool(true))]))])),
            ("clientInfo", .object([("name", .string("triplegate")), ("version", .string("0.1.0"))])),
        ])
        var body = ByteBufferAllocator().buffer(capacity: 256)
        JSONValue.object([("jsonrpc", .string("2.0")), ("id", .int(Int(id)!)), ("method", .string("initialize")), ("params", params)]).write(to: &body)
        let reply = try await channel.request(body, id: id, progressToken: nil, loop: loop, bounds: bounds, pace: nil, onMessage: { _ in })
        guard let result = reply.result else {
            throw UpstreamFailure.protocolError("initialize was refused: \(String(buffer: reply.bytes))")
        }
        let version = result["protocolVersion"]?.stringValue ?? Self.requestedVersion
        channel.established(protocolVersion: version)
        try await channel.send(RPC.notification(method: "notifications/initialized", params: nil), loop: loop)
        await channel.listen()
        return Handshake(protocolVersion: version, capabilities: result["capabilities"] ?? .object([]), serverInfo: result["serverInfo"],
                         instructions: result["instructions"]?.stringValue, generation: generation)
    }

    /// Sends `message` (an agent's request) with our id (and `target` renamed to the server's
    /// own name, if given) and returns the server's response as it came (our id in it: the
    /// caller restores the agent's, together with any other edit, in one copy).
    /// An expired session is re-established once, transparently.
    /// `stripEnvelope` removes the 2026-07-28 envelope (`io.modelcontextprotocol/*` in
    /// `_meta`): upstreams are spoken to in the handshake revisions, and some refuse it there.
    /// `pace` holds the call's own upstream stream, if it has one, while the agent does not read.
    func forward(_ message: RPCMessage, target: String?, loop: LoopContext, stripEnvelope: Bool = false, pace: AgentOutbound? = nil,
                 sent: @Sendable (String) -> Void = { _ in },
                 onMessage: @escaping @Sendable (RPCMessage) -> Void) async throws -> RPCMessage {
        var attempt = 0
        while true {
            _ = try await ready(loop: loop)
            let id = nextID()
            var edits: [(Range<Int>, String)] = []
            if let r = message.idRange { edits.append((r, id)) }
            if let target, let r = message.targetRange { edits.append((r, JSONValue.string(target).text)) }
            // Progress tokens are rewritten too: agents choose theirs, and two agents on one
            // upstream session could choose the same.
            let token = message.progressTokenRange.map { _ in "\"tg-\(name)-\(id)\"" }
            if stripEnvelope, let meta = message.removingMeta(prefix: "io.modelcontextprotocol/", progressToken: token) {
                edits.append(meta)  // the token, if any, is rewritten inside the new _meta
            } else if let r = message.progressTokenRange, let token {
                edits.append((r, token))
            }
            let body = message.replacing(edits)
            sent(id)
            state.withLockedValue { $0.inFlight[id] = onMessage }
            defer { state.withLockedValue { _ = $0.inFlight.removeValue(forKey: id) } }
            do {
                // An agent that goes away (its task is cancelled) cancels the upstream work too.
                let reply = try await withTaskCancellationHandler {
                    try await channel.request(body, id: id, progressToken: token, loop: loop, bounds: bounds, pace: pace, onMessage: onMessage)
                } onCancel: {
                    cancelUpstream(id, reason: "the client went away", loop: loop)
                }
                return reply
            } catch let failure as UpstreamFailure where failure.isTimeout {
                // The agent is told; the server is asked to stop working on it.
                cancelUpstream(id, reason: "timed out at the gateway", loop: loop)
                throw failure
            } catch UpstreamFailure.sessionExpired where attempt == 0 {
                attempt += 1
                channel.reset()
                state.withLockedValue { $0.handshake = nil }
            }
        }
    }

    /// Tells the server to stop working on our request `id`.
    private func cancelUpstream(_ id: String, reason: String, loop: LoopContext) {
        let params = JSONValue.object([("requestId", .int(Int(id) ?? 0)), ("reason", .string(reason))])
        let notice = RPC.notification(method: "notifications/cancelled", params: params)
        background.spawn { try? await self.notify(notice, loop: loop) }
    }

    /// A request of the gate's own (`tools/list` and the like); throws when it is answered with an error.
    func call(_ method: String, params: JSONValue?, loop: LoopContext) async throws -> RPCMessage {
        var b = ByteBufferAllocator().buffer(capacity: 128)
        var fields: [(String, JSONValue)] = [("jsonrpc", .string("2.0")), ("id", .int(0)), ("method", .string(method))]
        if let params { fields.append(("params", params)) }
        JSONValue.object(fields).write(to: &b)
        let message = try RPCMessage.parse(b)
        let reply = try await forward(message, target: nil, loop: loop, onMessage: { _ in })
        if !reply.isError { return reply }  // callers read only the result
        let error = JSONScanner.values(["error"], in: reply.bytes)?["error"]
        throw UpstreamFailure.protocolError("\(method) failed: \(error?["message"]?.stringValue ?? "no result")")
    }

    /// Sends a notification (or a response to a server request) on the upstream session.
    func notify(_ body: ByteBuffer, loop: LoopContext) async throws {
        _ = try await ready(loop: loop)
        try await channel.send(body, loop: loop)
    }

    /// A message the server sent outside any call's stream. List changes and resource updates
    /// are the gate's (it fans them out). A log message or a request (`roots/list`, sampling,
    /// elicitation) carries nothing that says which call it belongs to (stdio and HTTP+SSE
    /// have no other stream; a Streamable HTTP server's GET stream is the session's):
    /// - on an agent's own upstream session (`sessions: per_client`) it is that agent's: it
    ///   goes down one of its calls in flight, or its own stream;
    /// - on a shared session it could be any agent's, so it reaches none: a log message goes to
    ///   the gateway's log, a request is answered by the gateway (`ping`; `roots/list` with the
    ///   server's configured `roots`; anything else refused), each counted.
    func unsolicited(_ m: RPCMessage) {
        switch m.kind {
        case .notification where m.method == "notifications/message":
            if let owner = owner.withLockedValue({ $0 }) {
                if let call = anyCallInFlight() { call(m) } else { _ = owner(m) }
                return
            }
            logUnattributed(m)
        case .notification:
            let event: Event? = switch m.method {
            case "notifications/tools/list_changed": .listChanged(.tools)
            case "notifications/prompts/list_changed": .listChanged(.prompts)
            case "notifications/resources/list_changed": .listChanged(.resources)
            case "notifications/resources/updated":
                m.text(at: ["params", "uri"]).flatMap { try? JSONParser.parse($0) }?.stringValue.map { .resourceUpdated(uri: $0, message: m.bytes) }
            default: nil
            }
            if let event { events.withLockedValue { $0 }?(event) }
        case .request:
            if let owner = owner.withLockedValue({ $0 }) {
                if let call = anyCallInFlight() {
                    call(m)
                    return
                }
                if owner(m) { return }
                answer(m, with: RPC.error(id: m.id, code: RPCErrorCode.methodNotFound, message: "\(m.method ?? "") cannot reach the client now"))
                return
            }
            answerUnattributed(m)
        case .response:
            break
        }
    }

    /// Where messages of an agent's own upstream session go when no call of it is in flight
    /// (its stream); false when they cannot go anywhere now. Set for `per_client` copies only.
    private let owner = NIOLockedValueBox<(@Sendable (RPCMessage) -> Bool)?>(nil)

    /// Makes this upstream session one agent's own (see `unsolicited`).
    func setOwner(_ deliver: @escaping @Sendable (RPCMessage) -> Bool) {
        owner.withLockedValue { $0 = deliver }
    }

    /// A log message of a shared session, into the gateway's log (bounded) and counted.
    private func logUnattributed(_ m: RPCMessage) {
        drops.count(server: name, reason: .unattributedLog)
        let level = m.params?["level"]?.stringValue.flatMap(LogLevel.init(name:))
        let data = m.text(at: ["params", "data"]) ?? ""
        let (lines, suppressed) = serverLog.admit(CollectionOfOne(Substring(data)))
        if suppressed > 0 {
            logger.warning("an MCP server's log messages were left out of the log", metadata: ["mcp.server": "\(name)", "count": "\(suppressed)"])
        }
        for line in lines {
            logger.log(level: level.map(Self.gatewayLevel) ?? .info, "an MCP server logged outside any call",
                       metadata: ["mcp.server": "\(name)", "mcp.level": "\(level?.name ?? "none")", "data": "\(line)"])
        }
    }

    private static func gatewayLevel(_ level: LogLevel) -> Logger.Level {
        switch level {
        case .debug: .debug
        case .info, .notice: .info
        case .warning: .warning
        case .error, .critical, .alert, .emergency: .error
        }
    }

    /// A request of a shared session, answered by the gateway and counted.
    private func answerUnattributed(_ m: RPCMessage) {
        drops.count(server: name, reason: .unattributedRequest)
        let reply: ByteBuffer
        switch m.method {
        case "ping":
            reply = RPC.result(id: m.id ?? "null", .object([]))
        case "roots/list" where !config.roots.isEmpty:
            let roots = config.roots.map { r -> JSONValue in
                var fields: [(String, JSONValue)] = [("uri", .string(r.uri))]
                if let n = r.name { fields.append(("name", .string(n))) }
                return .object(fields)
            }
            reply = RPC.result(id: m.id ?? "null", .object([("roots", .array(roots))]))
        default:
            reply = RPC.error(id: m.id, code: RPCErrorCode.methodNotFound,
                              message: "\(m.method ?? "") cannot be attributed to one client on a shared session (sessions: per_client gives each client its own)")
        }
        answer(m, with: reply)
    }

    private func answer(_ m: RPCMessage, with reply: ByteBuffer) {
        let loop = self.loop
        background.spawn { try? await self.notify(reply, loop: loop) }
    }

    /// The message handler of one call in flight (on an agent's own session, all are its).
    private func anyCallInFlight() -> (@Sendable (RPCMessage) -> Void)? {
        state.withLockedValue { $0.inFlight.values.first }
    }

    func shutdown() async {
        await channel.shutdown()
    }
}
