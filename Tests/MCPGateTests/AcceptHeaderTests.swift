import GatewayCore
@testable import MCPGate
import NIOHTTP1
import Testing

/// `Accept` is read in place (no member list built per call): what it finds is what splitting
/// the lines into members would find.
@Suite struct AcceptHeaderTests {
    func headers(_ lines: [String]) -> HTTPHeaders { HTTPHeaders(lines.map { ("Accept", $0) }) }

    @Test func aTypeIsFoundInAnyMemberOfAnyLineInAnyCase() {
        #expect(MCPEndpoint.accepts(headers(["application/json, text/event-stream"]), "text/event-stream"))
        #expect(MCPEndpoint.accepts(headers(["text/html", "TEXT/Event-Stream;q=0.5"]), "text/event-stream"))
        #expect(MCPEndpoint.accepts(HTTPHeaders([("aCCept", "*/*")]), "*/*"))
        #expect(!MCPEndpoint.accepts(headers(["application/json"]), "text/event-stream"))
        #expect(!MCPEndpoint.accepts(HTTPHeaders([("x-accept", "text/event-stream")]), "text/event-stream"))
    }

    @Test func anEmptyLineSaysNothing() {
        #expect(!MCPEndpoint.hasAccept(HTTPHeaders()))
        #expect(!MCPEndpoint.hasAccept(headers(["", " , "])))
        #expect(MCPEndpoint.hasAccept(headers(["", "text/html"])))
    }

    @Test func contentTypesAreComparedByPrefixIgnoringCase() {
        #expect(ASCII.hasPrefixIgnoringCase("Application/JSON; charset=utf-8", "application/json"))
        #expect(!ASCII.hasPrefixIgnoringCase("application/jso", "application/json"))
        #expect(!ASCII.hasPrefixIgnoringCase("text/plain", "application/json"))
    }
}
