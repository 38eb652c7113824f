import GatewayCore
import NIOCore

/// HTTP-level refusals on the MCP endpoint (a missing key, a rate limit, a body too large) as a
/// JSON-RPC error with a null id: what MCP clients read. The HTTP status stays as the policy
/// set it (401, 403, 429, ...), with its headers.
struct MCPErrorDialect: ErrorDialect {
    func render(_ problem: ProblemDetails, allocator: ByteBufferAllocator) -> (contentType: String, body: ByteBuffer) {
        let code: Int
        switch problem.status.code {
        case 400, 413, 415: code = RPC.invalidRequest
        case 404: code = RPC.methodNotFound
        default: code = RPC.connectionClosed
        }
        return ("application/json", RPC.error(id: nil, code: code, message: problem.detail.map { "\(problem.title): \($0)" } ?? problem.title))
    }
}
