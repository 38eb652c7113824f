import GatewayCore
@testable import MCPGate
import NIOCore
import Testing

@Suite struct RPCMessageTests {
    func parse(_ text: String) throws -> RPCMessage { try RPCMessage.parse(ByteBuffer(string: text)) }

    @Test func requestsNotificationsAndResponsesAreTold() throws {
        let r = try parse(#"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"gh_x","arguments":{},"_meta":{"progressToken":7}}}"#)
        #expect(r.kind == .request && r.id == #""a-1""# && r.method == "tools/call" && r.target == "gh_x" && r.progressToken == "7")
        let n = try parse(#"{"method":"notifications/initialized","jsonrpc":"2.0"}"#)
        #expect(n.kind == .notification && n.id == nil)
        let resp = try parse(#"{"jsonrpc":"2.0","id":3,"result":{}}"#)
        #expect(resp.kind == .response && !resp.isError)
        let err = try parse(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#)
        #expect(err.kind == .response && err.isError && err.id == "null")
        let uri = try parse(#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"memo://a/b"}}"#)
        #expect(uri.target == "memo://a/b")
    }

    @Test func malformedMessagesSayWhyAndKeepTheirID() {
        #expect(throws: RPCMessage.Malformed.self) { try parse("[1]") }
        #expect(throws: RPCMessage.Malformed.self) { try parse(#"{"jsonrpc":"2.0","id":{},"method":"x"}"#) }
        do {
            _ = try parse(#"{"jsonrpc":"1.0","id":5,"method":"x"}"#)
            Issue.record("accepted jsonrpc 1.0")
        } catch let error as RPCMessage.Malformed {
            #expect(error.id == "5" && error.reason.contains("2.0"))
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: RPCMessage.Malformed.self) { try parse(#"{"jsonrpc":"2.0","result":{}}"#) }
        #expect(throws: RPCMessage.Malformed.self) { try parse(#"{"jsonrpc":"2.0","id":1,"method":5}"#) }
    }

    @Test func idsAndNamesAreSplicedLeavingEveryOtherByte() throws {
        let text = #"{ "jsonrpc" : "2.0", "id" : "agent-id", "method":"tools/call", "params" : {"name" : "gh_search", "x-unknown": [1.50, {"k":null}], "arguments":{"q":"é"}}}"#
        let m = try parse(text)
        let out = String(buffer: m.withID("42", target: "search"))
        #expect(out == #"{ "jsonrpc" : "2.0", "id" : 42, "method":"tools/call", "params" : {"name" : "search", "x-unknown": [1.50, {"k":null}], "arguments":{"q":"é"}}}"#)
        let back = try RPCMessage.parse(ByteBuffer(string: out)).withID(m.id!)
        #expect(String(buffer: back).contains(#""id" : "agent-id""#))
    }

    @Test func nestedValuesAreFoundByPath() throws {
        let m = try parse(#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tg-gh-3","progress":1}}"#)
        #expect(m.text(at: ["params", "progressToken"]) == #""tg-gh-3""#)
        #expect(m.text(at: ["params", "missing"]) == nil)
        let r = try #require(m.range(of: ["params", "progressToken"]))
        #expect(String(buffer: m.replacing([(r, "99")])) == #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":99,"progress":1}}"#)
    }

    @Test func cursorsRoundTripAndForgedOnesAreRefused() {
        for n in [0, 1, 500, 123_456] { #expect(MCPDispatcher.offset(fromCursor: MCPDispatcher.cursor(offset: n)) == n) }
        #expect(MCPDispatcher.offset(fromCursor: "not base64!") == nil)
        #expect(MCPDispatcher.offset(fromCursor: Array("other:5".utf8).base64) == nil)
        #expect(MCPDispatcher.offset(fromCursor: Array("tg1:-4".utf8).base64) == nil)
    }
}

@Suite struct EnvelopeStrippingTests {
    @Test func theModernEnvelopeLeavesMetaAndEveryOtherMemberKeepsItsBytes() throws {
        let text = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken" : 5,"x-trace":{"a":1.50},"io.modelcontextprotocol/clientCapabilities":{}}}}"#
        let m = try RPCMessage.parse(ByteBuffer(string: text))
        let edit = try #require(m.removingMeta(prefix: "io.modelcontextprotocol/"))
        #expect(String(buffer: m.replacing([edit])).hasSuffix(#""_meta":{"progressToken" : 5,"x-trace":{"a":1.50}}}}"#))
        let retoken = try #require(m.removingMeta(prefix: "io.modelcontextprotocol/", progressToken: "\"tg-1\""))
        #expect(String(buffer: m.replacing([retoken])).hasSuffix(#""_meta":{"progressToken":"tg-1","x-trace":{"a":1.50}}}}"#))
        let plain = try RPCMessage.parse(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"k":1}}}"#))
        #expect(plain.removingMeta(prefix: "io.modelcontextprotocol/") == nil)
    }
}

@Suite struct JSONMemberTests {
    @Test func aMemberIsFoundByItsBytesAndOnlyAtTheTopLevel() {
        let text = Array(#"{ "a" : {"b": 1}, "b":"x\"y", "ab": [1,2] }"#.utf8)
        text.withUnsafeBytes { raw in
            #expect(JSONScanner.member("b", in: raw).map { String(decoding: raw[$0], as: UTF8.self) } == #""x\"y""#)
            #expect(JSONScanner.member("ab", in: raw).map { String(decoding: raw[$0], as: UTF8.self) } == "[1,2]")
            #expect(JSONScanner.member("c", in: raw) == nil)
            #expect(JSONScanner.member("", in: raw) == nil)
        }
        Array("[1]".utf8).withUnsafeBytes { #expect(JSONScanner.member("a", in: $0) == nil) }
        Array("{}".utf8).withUnsafeBytes { #expect(JSONScanner.member("a", in: $0) == nil) }
    }
}
