import GatewayCore
import NIOCore
import NIOHTTP1

/// One agent message on its way through the gate, with who sent it and where.
struct MCPCall: Sendable {
    var message: RPCMessage
    var consumer: Consumer?
    /// The HTTP request's policy context (tool limits run on a copy of it).
    var policyContext: PolicyContext?
    /// The agent's session (handshake-era revisions after `initialize`).
    var session: AgentSession?
    /// The request follows 2026-07-28 (no session; version in `_meta`).
    var modern: Bool
    var view: AccessView
    var loop: LoopContext
    var requestID: String
    /// The path the agent called (`/mcp` or a virtual server's).
    var path: String
    /// Sends a message to the agent before the answer (progress, a server request); false when
    /// the agent cannot take one now (it asked for JSON only).
    var emit: @Sendable (ByteBuffer) -> Bool
    /// What the agent's connection takes now, for upstream streams to follow (nil: no stream of
    /// the agent's paces this call).
    var pace: AgentOutbound? = nil
}

/// The gate's answer to one agent message.
struct MCPAnswer: Sendable {
    /// The JSON-RPC response; nil answers 202 Accepted (notifications and responses).
    var body: ByteBuffer?
    var status: HTTPResponseStatus = .ok
    var headers: [(String, String)] = []
    /// Set by `initialize`: the new session, whose id goes in `Mcp-Session-Id`.
    var openedSession: AgentSession?
    /// The body is already written for the request's revision (2026-07-28 completion done).
    var final = false

    static let accepted = MCPAnswer(body: nil, status: .accepted)

    static func error(_ id: String?, _ code: RPCErrorCode, _ message: String, data: JSONValue? = nil, status: HTTPResponseStatus = .ok) -> MCPAnswer {
        MCPAnswer(body: RPC.error(id: id, code: code, message: message, data: data), status: status)
    }
}
