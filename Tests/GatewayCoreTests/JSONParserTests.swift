import GatewayCore
import NIOCore
import Testing


@Suite struct JSONScannerTests {
    @Test func integersAreReadAsTheParserReadsThem() {
        let texts = ["0", "7", "-3", "123456789012345678", "1234567890123456789", "12.0", "1e3", "1.5", "007", "-", "", "\"12\"",
                     "null", "true", "12a", "-0", "9223372036854775807", "99999999999999999999"]
        for text in texts {
            let fast = Array(text.utf8).withUnsafeBytes { JSONScanner.int($0) }
            #expect(fast == (try? JSONParser.parse(text))?.intValue, "\(text)")
        }
    }

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
