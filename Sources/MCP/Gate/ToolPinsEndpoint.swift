import GatewayCore
import NIOHTTP1

/// The admin side of tool pinning: `GET /admin/mcp/tools` lists every pinned tool with its
/// approved hash and, if its definition changed, the pending one;
/// `POST /admin/mcp/tools/approve?server=...&tool=...` approves the change.
package enum ToolPinsEndpoint {
    package static func make(gate: MCPGate) -> [AdminEndpoint] {
        [
            AdminEndpoint(path: "/admin/mcp/tools") { _ in
                let pins = gate.pins.all
                let body = JSONValue.object([("tools", .array(pins.map { p in
                    .object([("server", .string(p.server)), ("tool", .string(p.tool)), ("approved_sha256", p.approved.isEmpty ? .null : .string(p.approved)),
                             ("pending_sha256", p.pending.map { .string($0) } ?? .null),
                             // `new`: a tool added after its server's first listing, never approved.
                             ("status", .string(p.pending == nil ? "approved" : p.approved.isEmpty ? "new" : "changed"))])
                }))])
                return .init(status: .ok, contentType: "application/json", body: body.text)
            },
            AdminEndpoint(path: "/admin/mcp/tools/approve", method: .POST) { query in
                guard let server = query["server"], let tool = query["tool"] else {
                    return problem(.badRequest, "server and tool are required")
                }
                guard await gate.approve(server: server, tool: tool) else {
                    return problem(.notFound, "no changed definition of \(server).\(tool) waits for approval")
                }
                return .init(status: .ok, contentType: "application/json", body: JSONValue.object([("approved", .string("\(server).\(tool)"))]).text)
            },
        ]
    }

    private static func problem(_ status: HTTPResponseStatus, _ title: String) -> AdminEndpoint.Response {
        let p = JSONValue.object([("type", .string("about:blank")), ("title", .string(title)), ("status", .int(Int(status.code)))])
        return .init(status: status, contentType: "application/problem+json", body: p.text)
    }
}
