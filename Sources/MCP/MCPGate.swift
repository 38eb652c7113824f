// The MCP gate (issue 6): one Streamable HTTP endpoint for agents, multiplexing upstream MCP
// servers (HTTP, SSE, stdio) with sessions and tool-level access control. Nothing is built here
// yet; the target is named MCPGate so it never clashes with the official Swift MCP SDK's module.
