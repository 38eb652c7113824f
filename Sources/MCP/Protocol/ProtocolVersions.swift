/// The MCP revisions the gate serves to agents.
enum ProtocolVersions {
    /// Reached through `initialize`; sessions exist. 2025-03-26 also accepts JSON-RPC batches.
    static let handshake = ["2025-03-26", "2025-06-18", "2025-11-25"]
    /// Stateless: every request carries its version in `_meta` and in headers (`server/discover`).
    static let modern = ["2026-07-28"]
    static let all = handshake + modern
    /// The HTTP+SSE transport's revision, served on `<path>/sse`.
    static let legacy = "2024-11-05"
    /// What `initialize` answers when the agent asks for a version the gate does not serve.
    static let latestHandshake = "2025-11-25"
    /// Assumed for a handshake-era request without `MCP-Protocol-Version` (the spec's rule).
    static let assumedWithoutHeader = "2025-03-26"

    static let protocolVersionKey = "io.modelcontextprotocol/protocolVersion"
    static let clientCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities"

    /// Methods whose `Mcp-Name` header must equal a params member (2026-07-28).
    static let nameBearing: [String: String] = ["tools/call": "name", "prompts/get": "name", "resources/read": "uri"]

    /// The notifications a server may send a client at `version` (relayed to agents; others
    /// are dropped and counted). Progress and log messages are handled on their own.
    static func serverNotifications(_ version: String) -> Set<String> {
        var methods: Set<String> = ["notifications/cancelled", "notifications/progress", "notifications/message",
                                    "notifications/resources/updated", "notifications/resources/list_changed",
                                    "notifications/tools/list_changed", "notifications/prompts/list_changed"]
        if version >= "2025-11-25" { methods.formUnion(["notifications/elicitation/complete", "notifications/tasks/status"]) }
        return methods
    }

    /// Whether JSON-RPC batches are allowed at `version`.
    static func allowsBatches(_ version: String) -> Bool { version == "2025-03-26" }
}
