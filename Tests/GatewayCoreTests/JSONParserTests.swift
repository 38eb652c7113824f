import GatewayCore
import NIOCore
import Testing


@Suite struct JSONScannerTests {
    func scan(_ text: String, _ names: Set<String>) -> [String: JSONValue]? {
        JSONScanner.values(names, in: ByteBuffer(string: text))
    }

    @Test func findsTopLevelMembersOnly() throws {
        let text = #"{"id":"x","choices":[{"message":{"content":"{\"usage\": 1} } ]","model":"inner"}}],"model":"gpt-4o","usage":{"prompt_tokens":3}}"#
        let found = try #require(scan(text, ["usage", "model", "absent"]))
        #expect(found["model"] == .string("gpt-4o"))
        #expect(found["usage"] == .object([("prompt_tokens", .int(3))]))
        #expect(found["absent"] == nil)
    }

    @Test func whitespaceNumbersLiteralsAndFirstOccurrence() throws {
        let found = try #require(scan(" {\n \"a\" : 12 , \"b\":true,\"c\":null, \"a\": 13 }\n", ["a", "b", "c"]))
        #expect(found["a"] == .int(12) && found["b"] == .bool(true) && found["c"] == .null)
        #expect(scan("{}", ["a"]) == [:])
    }

    @Test func malformedFramingIsNil() {
        for bad in ["", "[1]", "{\"a\":1", "{\"a\" 1}", "{\"a\":{\"b\":1}", "{\"a\":1,}x", "{\"a\":\"unterminated}", "{\"a\":}"] {
            #expect(scan(bad, ["a"]) == nil, "\(bad)")
        }
    }
}
