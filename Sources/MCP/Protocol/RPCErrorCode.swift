/// The JSON-RPC error codes the gate answers with: JSON-RPC 2.0's own, and those MCP defines.
/// One type, so a code is named where it is used and never written as a bare number.
struct RPCErrorCode: Hashable, Sendable {
    let value: Int

    /// Not JSON, or not a JSON-RPC object.
    static let parseError = RPCErrorCode(value: -32700)
    static let invalidRequest = RPCErrorCode(value: -32600)
    static let methodNotFound = RPCErrorCode(value: -32601)
    /// Also "Unknown tool", hidden or absent alike.
    static let invalidParams = RPCErrorCode(value: -32602)
    static let internalError = RPCErrorCode(value: -32603)
    /// The upstream connection closed before its answer.
    static let connectionClosed = RPCErrorCode(value: -32000)
    /// The call's deadline or stall limit passed.
    static let requestTimeout = RPCErrorCode(value: -32001)
    /// `resources/read` of a URI no server listed.
    static let resourceNotFound = RPCErrorCode(value: -32002)
    /// 2026-07-28: a header disagrees with the body.
    static let headerMismatch = RPCErrorCode(value: -32020)
    /// 2026-07-28: a protocol version the gate does not serve.
    static let unsupportedProtocolVersion = RPCErrorCode(value: -32022)
}
