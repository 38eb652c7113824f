import GatewayCore
@testable import MCPGate
import NIOCore
import NIOHTTP1
import Testing

@Suite struct ModernEnvelopeTests {
    func message(_ method: String, version: String = "2026-07-28", caps: Bool = true, name: String? = nil) throws -> RPCMessage {
        var meta = #""io.modelcontextprotocol/protocolVersion":"\#(version)""#
        if caps { meta += #","io.modelcontextprotocol/clientCapabilities":{}"# }
        let nameField = name.map { #""name":"\#($0)","# } ?? ""
        return try RPCMessage.parse(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{\#(nameField)"_meta":{\#(meta)}}}"#))
    }

    func headers(_ method: String, version: String = "2026-07-28", name: String? = nil) -> HTTPHeaders {
        var h: HTTPHeaders = ["mcp-protocol-version": version, "mcp-method": method]
        if let name { h.add(name: "mcp-name", value: name) }
        return h
    }

    @Test func aWellFormedRequestPasses() throws {
        #expect(ModernEnvelope.check(try message("tools/call", name: "gh_x"), headers: headers("tools/call", name: "gh_x")) == nil)
        #expect(ModernEnvelope.isModern(try message("tools/list"), headers: [:]))
    }

    @Test func theRungsFailInOrder() throws {
        let noCaps = ModernEnvelope.check(try message("tools/list", caps: false), headers: headers("tools/list"))
        #expect(noCaps?.code.value == -32602 && noCaps?.message.contains("clientCapabilities") == true)
        #expect(ModernEnvelope.check(try message("tools/list"), headers: headers("tools/list", version: "2025-11-25"))?.code.value == -32020)
        #expect(ModernEnvelope.check(try message("tools/list"), headers: headers("prompts/list"))?.code.value == -32020)
        #expect(ModernEnvelope.check(try message("tools/call", name: "a"), headers: headers("tools/call", name: "b"))?.code.value == -32020)
        var twice = headers("tools/list")
        twice.add(name: "mcp-method", value: "tools/list")
        #expect(ModernEnvelope.check(try message("tools/list"), headers: twice)?.code.value == -32020)
        // Whatever the case of the second: the names are compared case-blind.
        for (name, value) in [("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("MCP-NAME", "gh_x")] {
            var again = headers("tools/call", name: "gh_x")
            again.add(name: name, value: value)
            #expect(ModernEnvelope.check(try message("tools/call", name: "gh_x"), headers: again)?.message == "\(name.lowercased()) header is given more than once")
        }
        let unsupported = ModernEnvelope.check(try message("tools/list", version: "2099-01-01"), headers: headers("tools/list", version: "2099-01-01"))
        #expect(unsupported?.code.value == -32022)
        #expect(unsupported?.data == .object([("supported", .array([.string("2026-07-28")])), ("requested", .string("2099-01-01"))]))
    }

    @Test func base64HeaderValuesAreDecoded() throws {
        let encoded = "=?base64?" + Array("tool ü".utf8).base64 + "?="
        #expect(ModernEnvelope.decodeHeaderValue(encoded) == "tool ü")
        #expect(ModernEnvelope.decodeHeaderValue("plain") == "plain")
    }

    @Test func resultsAreCompletedWithoutTouchingTheRest() {
        let list = ModernEnvelope.completing(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#), method: "tools/list")
        #expect(String(buffer: list) == #"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[]}}"#)
        let call = ModernEnvelope.completing(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"result":{ }}"#), method: "tools/call")
        #expect(String(buffer: call) == #"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete" }}"#)
        let kept = #"{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","ttlMs":5,"cacheScope":"public"}}"#
        #expect(String(buffer: ModernEnvelope.completing(ByteBuffer(string: kept), method: "resources/read")) == kept)
        let error = #"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}"#
        #expect(String(buffer: ModernEnvelope.completing(ByteBuffer(string: error), method: "tools/list")) == error)
    }
}

@Suite struct MCPErrorDialectTests {
    @Test func challengesNameTheResourceMetadata() {
        let dialect = MCPErrorDialect(resourceMetadata: "https://gw/.well-known/oauth-protected-resource/mcp")
        var missing = ProblemDetails(status: .unauthorized)
        dialect.adjust(&missing)
        #expect(missing.headers.map(\.1) == [#"Bearer resource_metadata="https://gw/.well-known/oauth-protected-resource/mcp""#])
        var scoped = ProblemDetails(status: .forbidden, headers: [("WWW-Authenticate", #"Bearer error="insufficient_scope""#)])
        dialect.adjust(&scoped)
        #expect(scoped.headers[0].1 == #"Bearer error="insufficient_scope", resource_metadata="https://gw/.well-known/oauth-protected-resource/mcp""#)
        var acl = ProblemDetails(status: .forbidden)
        dialect.adjust(&acl)
        #expect(acl.headers.isEmpty)  // not an OAuth challenge
        var plain = ProblemDetails(status: .unauthorized)
        MCPErrorDialect().adjust(&plain)
        #expect(plain.headers.isEmpty)
    }

    @Test func refusalsAreJSONRPCErrorsWithANullID() {
        let (type, body) = MCPErrorDialect().render(ProblemDetails(status: .tooManyRequests, title: "Too many"), allocator: ByteBufferAllocator())
        #expect(type == "application/json")
        #expect(String(buffer: body) == #"{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Too many"}}"#)
    }
}
