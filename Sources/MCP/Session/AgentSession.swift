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
    private let state: NIOLockedValueBox<State>

    private struct State {
        var lastUsed: Int64
        /// The agent's request id (JSON text) → where it went upstream, for cancellation.
        var inFlight: [String: (server: UpstreamServer, upstreamID: String)] = [:]
    }

    init(id: String, principal: String, protocolVersion: String, clientCapabilities: JSONValue, path: String, now: Int64,
         push: (@Sendable (ByteBuffer) -> Void)? = nil) {
        self.id = id
        self.push = push
        self.principal = principal
        self.protocolVersion = protocolVersion
        self.clientCapabilities = clientCapabilities
        self.path = path
        state = NIOLockedValueBox(State(lastUsed: now))
    }

    var lastUsed: Int64 { state.withLockedValue { $0.lastUsed } }

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
}
