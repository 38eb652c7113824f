import GatewayCore
import Testing

/// Strict JSON: one meaning per body, as Python's `json` would read it, duplicates refused.
@Suite struct JSONValidatorTests {
    func reason(_ text: String) -> String? {
        do {
            try JSONValidator.validate(Array(text.utf8))
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func acceptsWhatRFC8259Accepts() {
        for ok in ["{}", "[]", "0", "-0.5e+3", "\"\\u00e9\\ud83d\\ude00\"", " {\"a\": [1, {\"b\": null}], \"c\": true } ",
                   "{\"a\":{\"x\":1},\"b\":{\"x\":2}}", "[{\"a\":1},{\"a\":1}]", "\"caf\u{e9}\"", "{\"\":1, \" \":2}"] {
            #expect(reason(ok) == nil, "\(ok)")
        }
    }

    @Test func refusesDuplicateKeysAtAnyDepthAfterDecodingEscapes() {
        #expect(reason("{\"model\":\"a\",\"model\":\"b\"}") == "duplicate key \"model\"")
        #expect(reason("{\"model\":\"a\",\"mod\\u0065l\":\"b\"}") == "duplicate key \"model\"")
        #expect(reason("{\"mod\\u0065l\":\"a\",\"model\":\"b\"}") == "duplicate key \"model\"")
        #expect(reason("{\"a\":[{\"x\":1,\"y\":{\"n\":1,\"n\":2}}]}") == "duplicate key \"n\"")
        #expect(reason("{\"\\/\":1,\"/\":2}") == "duplicate key \"/\"")
        #expect(reason("{\"\\ud83d\\ude00\":1,\"\u{1F600}\":2}") != nil)
    }

    /// The AI gate validates a body and finds its top-level fields in one pass; what it finds is
    /// what the scanner finds, escapes decoded, nested members ignored.
    /// The first keys of a walk live on the stack and the rest move to the heap: duplicates are
    /// found across that move, escaped keys among them, in nested objects opened after it, and
    /// an object's keys are forgotten when it closes wherever they lived.
    @Test func keysBeyondTheStackRoomAreCheckedAlike() {
        func object(_ n: Int, prefix: String = "k") -> String { (0..<n).map { "\"\(prefix)\($0)\":\($0)" }.joined(separator: ",") }
        let many = JSONValidator.inlineKeys * 3
        #expect(reason("{\(object(many))}") == nil)
        #expect(reason("{\(object(many)),\"k0\":1}") == "duplicate key \"k0\"")
        #expect(reason("{\(object(many)),\"k\\u0030\":1}") == "duplicate key \"k0\"")
        #expect(reason("{\"\\u006b5\":0,\(object(many))}") == "duplicate key \"k5\"")
        // Nested objects past the move: their keys are theirs alone, and checked.
        #expect(reason("{\(object(many)),\"in\":{\(object(many)),\"x\":{\"k1\":1}},\"k\(many + 1)\":1}") == nil)
        #expect(reason("{\(object(many)),\"in\":{\(object(many)),\"k7\":2}}") == "duplicate key \"k7\"")
        // Many sibling objects, each with escaped keys: each is forgotten when it closes.
        let siblings = (0..<50).map { _ in "{\"\\u0061\":1,\(object(40, prefix: "b"))}" }.joined(separator: ",")
        #expect(reason("[\(siblings)]") == nil)
        #expect(reason("[\(siblings),{\"a\":1,\"\\u0061\":2}]") == "duplicate key \"a\"")
    }

    /// Plain string runs are stepped over eight bytes at a time: a byte that must stop the walk
    /// (a quote, an escape, a control character, a non-ASCII byte) is seen at every offset of
    /// the word it falls in, and the scanner ends a string where the validator does.
    @Test func everyByteThatMattersIsSeenWhereverItFallsInAWord() throws {
        for at in 0..<24 {
            let before = String(repeating: "a", count: at), after = String(repeating: "b", count: 20)
            #expect(reason("{\"k\":\"\(before)\u{01}\(after)\"}") == "control character in string", "at \(at)")
            #expect(reason("{\"k\":\"\(before)\\q\(after)\"}") == "invalid escape", "at \(at)")
            #expect(reason("{\"k\":\"\(before)\\\"\(after)\",\"n\":1}") == nil, "at \(at)")
            #expect(reason("{\"k\":\"\(before)é\(after)\"}") == nil, "at \(at)")
            let bytes = Array("{\"k\":\"\(before)\"\(after)\"}".utf8)
            #expect(reason(String(decoding: bytes, as: UTF8.self)) != nil, "at \(at)")
            var invalid = Array("{\"k\":\"\(before)".utf8) + [0xFF] + Array("\(after)\"}".utf8)
            #expect((try? JSONValidator.validate(invalid)) == nil, "at \(at)")
            invalid = Array("{\"k\":\"\(before)\\\"\(after)\",\"model\":\"m\"}".utf8)
            let found = try invalid.withUnsafeBytes { try JSONValidator.validate($0, findingTopLevel: [Array("model".utf8)]) }
            let scanned = invalid.withUnsafeBytes { JSONScanner.slots([Array("model".utf8)], in: $0) }
            #expect(found != nil && found! == scanned!, "at \(at)")
        }
    }

    @Test func findsTopLevelMembersWhileValidating() throws {
        let keys = [Array("model".utf8), Array("n".utf8), Array("messages".utf8)]
        for text in ["{\"model\":\"m\",\"n\":2}", " { \"messages\" : [ {\"model\":1} ] , \"model\" : \"x\" } ",
                     "{\"mod\\u0065l\":\"m\",\"x\":{\"n\":1},\"n\":{}}", "{\"messages\":[],\"n\":null}", "{}",
                     "{\"a\":{\"b\":{\"c\":[1,2,{}]}},\"model\":true}"] {
            let bytes = Array(text.utf8)
            let fused = try bytes.withUnsafeBytes { try JSONValidator.validate($0, findingTopLevel: keys) }
            let scanned = bytes.withUnsafeBytes { JSONScanner.slots(keys, in: $0) }
            #expect(fused != nil && fused! == scanned!, "\(text)")
        }
        let first = try Array("{\"mod\\u0065l\":\"m\",\"x\":{\"n\":1},\"n\":{}}".utf8).withUnsafeBytes {
            try JSONValidator.validate($0, findingTopLevel: keys)
        }
        #expect(first?[0] == 14..<17 && first?[1] == 34..<36 && first?[2] == nil)
        #expect(try Array("[1]".utf8).withUnsafeBytes { try JSONValidator.validate($0, findingTopLevel: keys) } == nil)
        #expect(throws: JSONValidator.Failure.self) {
            try Array("{\"n\":1,\"n\":2}".utf8).withUnsafeBytes { try JSONValidator.validate($0, findingTopLevel: keys) }
        }
    }

    @Test func manyKeysAreCheckedInLinearTime() {
        var text = "{"
        for i in 0..<100_000 { text += "\"k\(i)\":\(i)," }
        #expect(reason(text + "\"k0\":1}") == "duplicate key \"k0\"")
        #expect(reason(text + "\"last\":1}") == nil)
    }

    @Test func refusesWhatOtherReadersWouldReadDifferently() {
        for bad in ["{\"a\":1} x", "{\"a\":1}{}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{'a':1}", "{\"a\":1,}", "[1,]",
                    "{\"a\" 1}", "\"\u{1}\"", "\"\\x\"", "\"\\u12\"", "NaN", "Infinity", "{\"a\":tru}", "", "   ", "\"\\ud800\"", "\"\\ude00\"", "\"\\ud800\\u0041\"",
                    String(repeating: "[", count: 65) + String(repeating: "]", count: 65)] {
            #expect(reason(bad) != nil, "\(bad)")
        }
        #expect((try? JSONValidator.validate([0x22, 0xC3, 0x28, 0x22])) == nil)  // invalid UTF-8
        #expect((try? JSONValidator.validate([0x22, 0xED, 0xA0, 0x80, 0x22])) == nil)  // an encoded surrogate
    }
}
