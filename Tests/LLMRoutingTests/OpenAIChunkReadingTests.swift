import GatewayCore
import NIOCore
import Testing

@testable import LLMRouting

/// A passed-through OpenAI stream's chunks are read from their bytes; what is read must be what
/// the tree gives (`OpenAIStreamSource.translate` and the fields `forward` reads from it).
@Suite struct OpenAIChunkReadingTests {
    /// What `forward` reads from a chunk's tree.
    func treeReading(_ event: SSEEvent) throws(StreamError) -> OpenAIChunkReading {
        var source = OpenAIStreamSource()
        let chunks = try source.translate(event)
        if source.complete { return .done }
        // A chunk that is not an object has nothing to read (nor does the tree give anything).
        guard let c = chunks.first, c.objectFields != nil else { return .nothing }
        var out = OpenAIChunkReading.Chunk()
        if let u = c["usage"], u != .null { out.usage = TokenUsage(openAI: u) }
        out.model = c["model"]?.stringValue
        if let delta = c["choices"]?.arrayValue?.first?["delta"] {
            out.deliveredBytes += delta["content"]?.stringValue?.utf8.count ?? 0
            for call in delta["tool_calls"]?.arrayValue ?? [] { out.deliveredBytes += call["function"]?["arguments"]?.stringValue?.utf8.count ?? 0 }
        }
        out.usageOnly = c["choices"]?.arrayValue?.isEmpty == true
        return .chunk(out)
    }

    func event(_ data: String) -> SSEEvent { events("data: \(data)\n\n")[0] }

    @Test(arguments: [
        #"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}"#,
        #"{"id":"c","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello! "},"logprobs":null,"finish_reason":null}]}"#,
        #"{"model":"m","choices":[{"index":0,"delta":{"content":"q\"uote\\ \/ \n\t \u00e9 \u20ac \ud83d\ude42 é🙂 \u0041"}}]}"#,
        #"{"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"city\":"}},{"index":1,"function":{"arguments":"\"Zürich\"}"}}]}}]}"#,
        #"{"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        #"{"model":"m","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160,"prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":12}}}"#,
        #"{"model":"m","choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"second choice, not counted"}}]}"#,
        #" { "model" : "spaced" , "choices" : [ { "delta" : { "content" : "x y" } } ] } "#,
        #"{"error":null,"model":"m","choices":[{"delta":{"content":"ok"}}]}"#,
        #"[DONE]"#,
        #"not json"#,
        #"[1,2]"#,
    ])
    func bytesReadAsTheTree(data: String) throws {
        #expect(try OpenAIChunkReading.read(event(data), model: true) == treeReading(event(data)), "\(data)")
    }

    @Test func theModelIsReadOnlyWhenAsked() throws {
        let e = event(#"{"model":"gpt-4o","choices":[{"delta":{"content":"hi"}}]}"#)
        #expect(try OpenAIChunkReading.read(e, model: false) == .chunk(.init(usage: nil, model: nil, deliveredBytes: 2, usageOnly: false)))
    }

    @Test func anErrorChunkThrowsTheProvidersWordsBothWays() {
        let e = event(#"{"error":{"message":"The server had an error","type":"server_error"}}"#)
        do {
            _ = try OpenAIChunkReading.read(e, model: true)
            Issue.record("no error thrown from the bytes")
        } catch {
            #expect(error.message == "The server had an error")
            #expect(error.type == "server_error")
        }
        do {
            _ = try treeReading(e)
            Issue.record("no error thrown from the tree")
        } catch {
            #expect(error.message == "The server had an error")
            #expect(error.type == "server_error")
        }
    }

    @Test(arguments: [#""""#, #""plain""#, #""\"\\\/\b\f\n\r\t""#, #""\u00e9\u0800\uFFFF""#, #""\ud83d\ude42x""#, #""é🙂中""#])
    func decodedLengthIsTheParsersUTF8Count(text: String) throws {
        let parsed = try JSONParser.parse(text).stringValue
        var t = text
        let n = t.withUTF8 { JSONScanner.decodedStringLength(UnsafeRawBufferPointer($0)) }
        #expect(n == parsed?.utf8.count)
    }

    @Test(arguments: [#""\ud83d""#, #""\ude42""#, #""\u12""#, #""abc"#, #"12"#, #""\"#, #""\q""#, "\"tab\there\"", #""a"b""#])
    func badStringsHaveNoLength(text: String) {
        #expect((try? JSONParser.parse(text))?.stringValue == nil, "the parser refuses it too")
        var t = text
        #expect(t.withUTF8 { JSONScanner.decodedStringLength(UnsafeRawBufferPointer($0)) } == nil)
    }
}
