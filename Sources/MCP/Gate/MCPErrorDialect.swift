import GatewayCore
import NIOCore

/// HTTP-level refusals on the MCP endpoint (a missing key, a rate limit, a body too large) as a
/// JSON-RPC error with a null id: what MCP clients read. The HTTP status stays as the policy
/// set it (401, 403, 429, ...), with its headers.
struct MCPErrorDialect: ErrorDialect {
    /// The RFC 9728 metadata URL for this path, when `mcp.oauth` is set.
    var resourceMetadata: String?

    /// 401 and 403 challenges name the resource metadata, so OAuth clients find where to sign in.
    func adjust(_ problem: inout ProblemDetails) {
        guard let resourceMetadata, problem.status == .unauthorized || problem.status == .forbidden else { return }
        let parameter = "resource_metadata=\"\(resourceMetadata)\""
        if let i = problem.headers.firstIndex(where: { $0.0.lowercased() == "www-authenticate" }) {
            problem.headers[i].1 += ", " + parameter
        } else if problem.status == .unauthorized {
            problem.headers.append(("www-authenticate", "Bearer " + parameter))
        }
    }

    func render(_ problem: ProblemDetails, allocator: ByteBufferAllocator) -> (contentType: String, body: ByteBuffer) {
        let code: RPCErrorCode
        switch problem.status.code {
        case 400, 413, 415: code = RPCErrorCode.invalidRequest
        case 404: code = RPCErrorCode.methodNotFound
        default: code = RPCErrorCode.connectionClosed
        }
        return ("application/json", RPC.error(id: nil, code: code, message: problem.detail.map { "\(problem.title): \($0)" } ?? problem.title))
    }
}
