import GatewayCore
import NIOConcurrencyHelpers
import NIOCore

/// One agent's MCP session (the handshake-era revisions): made by `initialize`, named by an
/// unguessable `Mcp-Session-Id`, bound to the principal that opened it and to the endpoint it
/// was opened on.
final class AgentSession: Sendable {
    let id: String
    /// Who opened it: every later request must come from the same principal.
    let principal: String
    let protocolVersion: String
    let clientCapabilities: JSONValue
    /// The path it was opened on (`/mcp` or a virtual server's).
    let path: String
    /// Set for sessions of the 2024-11-05 HTTP+SSE transport: sends a message down the agent's
    /// event stream (every answer goes there; the POSTs only get 202).
    let push: (@Sendable (ByteBuffer) -> Void)?
    /// What that event stream takes now (`AgentOutbound`): messages before an answer follow it.
    let pushPace: AgentOutbound?
    private let state: NIOLockedValueBox<State>

    private struct State {
        var lastUsed: Int64
        /// The agent's request id (JSON text) → where it went upstream, for cancellation.
        var inFlight: [String: (server: UpstreamServer, upstreamID: String)] = [:]
        /// Server requests relayed to the agent: our id (JSON text) → the upstream and its id.
        var relayed: [String: (server: UpstreamServer, upstreamID: String)] = [:]
        var relays = 0
        /// The agent's GET stream, if open: where messages outside any request go.
        var standalone: (@Sendable (ByteBuffer) -> Void)?
        /// Messages that came while no GET stream was open, sent when one opens. An agent opens
        /// its stream after the handshake, and a server can speak first (a tool call that
        /// changes the tool list). At most `waitingLimit`; past it the oldest are dropped.
        var waiting: [ByteBuffer] = []
        /// Resource URIs the agent subscribed to.
        var subscriptions: Set<String> = []
        /// Recent SSE events, for `Last-Event-ID`.
        var replay = ReplayBuffer()
        /// Streams resumed on a GET: their later events go there too.
        var resumers: [Int: @Sendable (ReplayBuffer.Event) -> Void] = [:]
        /// This session's own upstream sessions (`sessions: per_client`), by server name.
        var upstreams: [String: UpstreamServer] = [:]
        /// The least severe log message the agent wants (`logging/setLevel`); nil: every one.
        var logLevel: LogLevel?
        var ended = false
    }

    init(id: String, principal: String, protocolVersion: String, clientCapabilities: JSONValue, path: String, now: Int64,
         push: (@Sendable (ByteBuffer) -> Void)? = nil, pushPace: AgentOutbound? = nil) {
        self.id = id
        self.push = push
        self.pushPace = pushPace
        self.principal = principal
        self.protocolVersion = protocolVersion
        self.clientCapabilities = clientCapabilities
        self.path = path
        state = NIOLockedValueBox(State(lastUsed: now))
    }

    var lastUsed: Int64 { state.withLockedValue { $0.lastUsed } }

    /// The server to send this session's calls to: its own copy of `server` when the server
    /// keeps sessions per client (made at first use, ended with the session), else `server`.
    func upstream(for server: UpstreamServer) -> UpstreamServer {
        guard let make = server.perClient else { return server }
        let (own, made): (UpstreamServer, Bool) = state.withLockedValue { s in
            if let existing = s.upstreams[server.name], !s.ended { return (existing, false) }
            let copy = make()
            if !s.ended { s.upstreams[server.name] = copy }
            return (copy, true)
        }
        if made {
            // Its list changes and resource updates go where the shared server's go; what it
            // says outside any call is this agent's alone.
            own.events.withLockedValue { $0 = server.events.withLockedValue { $0 } }
            own.setOwner { [weak self, weak own] m in
                guard let self, let own else { return false }
                return self.take(m, from: own)
            }
        }
        return own
    }

    /// A log message or a request from one of this session's own upstream sessions, sent
    /// outside any call: down the agent's stream (a request under an id of ours). False when
    /// the agent has no stream to take a request now (the server is then refused at once).
    func take(_ m: RPCMessage, from server: UpstreamServer) -> Bool {
        switch m.kind {
        case .notification:
            // A level the agent did not ask for (or not a level at all) is dropped.
            guard let name = m.params?["level"]?.stringValue, let level = LogLevel(name: name), logFilter.admits(level) else { return true }
            notify(m.bytes)
            return true
        case .request:
            guard let upstreamID = m.id, let r = m.idRange, let id = relay(from: server, upstreamID: upstreamID) else { return false }
            if notify(m.replacing([(r, id)]), wait: false) { return true }
            _ = answered(id)
            return false
        case .response:
            return true
        }
    }

    /// Ends the session's own upstream sessions (DELETE, expiry).
    func end() {
        let owned = state.withLockedValue { s -> [UpstreamServer] in
            s.ended = true
            s.waiting = []
            defer { s.upstreams = [:] }
            return Array(s.upstreams.values)
        }
        for server in owned { server.background.spawn { await server.shutdown() } }
    }

    /// A new SSE stream's number (a POST answered as SSE, or the GET stream).
    func openStream() -> Int {
        state.withLockedValue { $0.replay.openStream() }
    }

    /// Keeps an event for resumption and hands it to a GET that resumed its stream.
    func record(_ event: ReplayBuffer.Event) {
        let resumer: (@Sendable (ReplayBuffer.Event) -> Void)? = state.withLockedValue { s in
            s.replay.record(event)
            let r = s.resumers[event.stream]
            if event.final { s.resumers[event.stream] = nil }
            return r
        }
        resumer?(event)
    }

    /// What an agent reconnecting with `Last-Event-ID: stream-seq` missed, and whether the stream
    /// had ended; if not, `send` gets its later events. Nil when the buffer no longer has them.
    func resume(stream: Int, after seq: Int, send: @escaping @Sendable (ReplayBuffer.Event) -> Void) -> (events: [ReplayBuffer.Event], ended: Bool)? {
        state.withLockedValue { s in
            guard let missed = s.replay.after(stream: stream, seq: seq) else { return nil }
            if !missed.ended { s.resumers[stream] = send }
            return missed
        }
    }

    /// Which log messages reach the agent: from the level it set, or all until it sets one.
    var logFilter: LogFilter {
        state.withLockedValue { $0.logLevel.map { .atLeast($0) } ?? .all }
    }

    func setLogLevel(_ level: LogLevel) {
        state.withLockedValue { $0.logLevel = level }
    }

    func subscribe(_ uri: String, _ on: Bool) {
        state.withLockedValue { s in
            if on { s.subscriptions.insert(uri) } else { s.subscriptions.remove(uri) }
        }
    }

    func isSubscribed(to uri: String) -> Bool {
        state.withLockedValue { $0.subscriptions.contains(uri) }
    }

    /// Opens (or, with nil, closes) the agent's GET stream. Messages held while none was open
    /// go down the new one first, in order.
    func setStandalone(_ send: (@Sendable (ByteBuffer) -> Void)?) {
        state.withLockedValue { s in
            s.standalone = send
            guard let send, !s.waiting.isEmpty else { return }
            // Under the lock, so a message sent meanwhile cannot overtake them (`send` only
            // hands the message to the stream's loop).
            for m in s.waiting { send(m) }
            s.waiting = []
        }
    }

    /// How many messages wait for a GET stream at most.
    static let waitingLimit = 64

    /// Sends a message outside any request: on the HTTP+SSE stream, or the GET stream if open.
    /// False when the agent has no stream to take it now: the message waits for one (unless
    /// `wait` is false).
    @discardableResult
    func notify(_ message: ByteBuffer, wait: Bool = true) -> Bool {
        if let push {
            push(message)
            return true
        }
        let send: (@Sendable (ByteBuffer) -> Void)? = state.withLockedValue { s in
            if let send = s.standalone { return send }
            guard !s.ended, wait else { return nil }
            if s.waiting.count == Self.waitingLimit { s.waiting.removeFirst() }
            s.waiting.append(message)
            return nil
        }
        guard let send else { return false }
        send(message)
        return true
    }

    /// How many messages wait for the agent's GET stream.
    var waitingCount: Int { state.withLockedValue { $0.waiting.count } }

    func touch(now: Int64) {
        state.withLockedValue { $0.lastUsed = max($0.lastUsed, now) }
    }

    func started(_ requestID: String, server: UpstreamServer, upstreamID: String) {
        state.withLockedValue { $0.inFlight[requestID] = (server, upstreamID) }
    }

    func ended(_ requestID: String) {
        state.withLockedValue { _ = $0.inFlight.removeValue(forKey: requestID) }
    }

    func inFlight(_ requestID: String) -> (server: UpstreamServer, upstreamID: String)? {
        state.withLockedValue { $0.inFlight[requestID] }
    }

    /// How many server requests may wait for this agent's answer at once; past it, a server's
    /// request is refused upstream (a server cannot pile requests on an agent).
    static let relayLimit = 32

    /// Remembers a server request sent on to the agent; returns the id (JSON text) the agent
    /// sees, which is never one an upstream chose. Nil when `relayLimit` requests already wait.
    func relay(from server: UpstreamServer, upstreamID: String) -> String? {
        state.withLockedValue { s in
            guard s.relayed.count < Self.relayLimit else { return nil }
            s.relays += 1
            let id = "\"tg-r-\(s.relays)\""
            s.relayed[id] = (server, upstreamID)
            return id
        }
    }

    /// The upstream request an agent's response answers, once.
    func answered(_ id: String) -> (server: UpstreamServer, upstreamID: String)? {
        state.withLockedValue { $0.relayed.removeValue(forKey: id) }
    }
}
