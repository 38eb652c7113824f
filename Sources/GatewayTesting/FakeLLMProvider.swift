import GatewayCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An LLM provider for in-process tests, on 127.0.0.1 and an ephemeral port, speaking each
/// provider's wire format by path as the real services do: OpenAI (`/v1/chat/completions`,
/// Azure's `/openai/deployments/{name}/...`), Anthropic (`/v1/messages`) and Gemini
/// (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`).
///
/// It answers "Hello from {name} {model}", streamed word by word with usage, ending each stream
/// as the provider does (OpenAI's usage chunk and `[DONE]`, Anthropic's `message_delta` and
/// `message_stop`, Gemini's finish reason with `usageMetadata`). A script of `Behaviour`s,
/// one per request, makes it misbehave. The integration suite's Python twin
/// (`Tests/integration/fakeproviders.py`) does the same for the real binary.
package final class FakeLLMProvider: Sendable {
    package enum Behaviour: Sendable {
        /// An error in the provider's own format, with extra headers (`retry-after`).
        case status(Int, message: String = "scripted failure", headers: [(String, String)] = [])
        /// Sends this many stream events, then closes the connection mid-stream.
        case cutAfter(events: Int)
        /// Sends this many stream events, then the provider's error event.
        case streamError(after: Int)
        /// Answers nothing.
        case stall
    }

    /// What a request looked like when it arrived.
    package struct Recorded: Sendable {
        package var path: String
        package var headers: HTTPHeaders
        package var body: String
    }

    package let name: String
    private let state = NIOLockedValueBox<(script: [Behaviour], requests: [Recorded])>(([], []))
    private let channel: Channel
    package var port: Int { channel.localAddress?.port ?? 0 }
    package var baseURL: String { "http://127.0.0.1:\(port)" }

    package static func start(name: String, group: EventLoopGroup) async throws -> FakeLLMProvider {
        let box = NIOLockedValueBox<FakeLLMProvider?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(provider: box.withLockedValue { $0! }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let provider = FakeLLMProvider(name: name, channel: channel)
        box.withLockedValue { $0 = provider }
        return provider
    }

    private init(name: String, channel: Channel) {
        self.name = name
        self.channel = channel
    }

    /// Queues behaviours for the next requests, in order.
    package func then(_ behaviours: Behaviour...) { state.withLockedValue { $0.script += behaviours } }

    package var requests: [Recorded] { state.withLockedValue { $0.requests } }

    package func stop() async throws { try await channel.close() }

    fileprivate func arrived(_ r: Recorded) -> Behaviour? {
        state.withLockedValue { s in
            s.requests.append(r)
            return s.script.isEmpty ? nil : s.script.removeFirst()
        }
    }

    // MARK: Answers

    enum Style { case openai, anthropic, gemini }

    struct Answer {
        var status = 200
        var headers: [(String, String)] = []
        var body: [String] = []  // one element per stream event; one element for whole bodies
        var stream = false
        var cutAfter: Int?
    }

    func answer(path: String, body: JSONValue, behaviour: Behaviour?) -> Answer? {
        let style: Style = path.hasPrefix("/v1/messages") ? .anthropic : path.hasPrefix("/v1beta/") ? .gemini : .openai
        var model = body["model"]?.stringValue ?? "?"
        if let r = path.range(of: "/openai/deployments/") { model = String(path[r.upperBound...].prefix { $0 != "/" }) }
        if style == .gemini, let r = path.range(of: "/models/") { model = String(path[r.upperBound...].prefix { $0 != ":" }) }
        let stream = body["stream"]?.boolValue == true || path.hasSuffix(":streamGenerateContent")
        switch behaviour {
        case .status(let code, let message, let headers)?:
            return Answer(status: code, headers: headers, body: [Self.error(style, code, message).text])
        case .stall?:
            return nil
        default:
            break
        }
        let words = "Hello from \(name) \(model)".split(separator: " ").map(String.init)
        var events = stream ? Self.stream(style, model: model, words: words) : [Self.whole(style, model: model, text: words.joined(separator: " "))]
        var answer = Answer(body: events, stream: stream)
        switch behaviour {
        case .cutAfter(let n)?: answer.cutAfter = n
        case .streamError(let n)?:
            events = Array(events.prefix(n))
            events.append(style == .anthropic
                ? "event: error\ndata: \(Self.error(.anthropic, 529, "Overloaded").text)\n\n"
                : "data: \(Self.error(style, 500, "scripted stream failure").text)\n\n")
            answer.body = events
        default: break
        }
        return answer
    }

    static func error(_ style: Style, _ status: Int, _ message: String) -> JSONValue {
        switch style {
        case .anthropic:
            let type = [429: "rate_limit_error", 529: "overloaded_error", 400: "invalid_request_error"][status] ?? "api_error"
            return .object([("type", .string("error")), ("error", .object([("type", .string(type)), ("message", .string(message))]))])
        case .gemini:
            return .object([("error", .object([("code", .int(status)), ("message", .string(message)), ("status", .string("INTERNAL"))]))])
        case .openai:
            return .object([("error", .object([("message", .string(message)), ("type", .string(status == 429 ? "requests" : "server_error")),
                                               ("param", .null), ("code", .null)]))])
        }
    }

    static func whole(_ style: Style, model: String, text: String) -> String {
        switch style {
        case .openai:
            return JSONValue.object([
                ("id", .string("chatcmpl-fake")), ("object", .string("chat.completion")), ("created", .int(1)), ("model", .string(model)),
                ("choices", .array([.object([("index", .int(0)), ("message", .object([("role", .string("assistant")), ("content", .string(text))])),
                                             ("finish_reason", .string("stop"))])])),
                ("usage", .object([("prompt_tokens", .int(5)), ("completion_tokens", .int(4)), ("total_tokens", .int(9))])),
            ]).text
        case .anthropic:
            return JSONValue.object([
                ("id", .string("msg_fake")), ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model)),
                ("content", .array([.object([("type", .string("text")), ("text", .string(text))])])),
                ("stop_reason", .string("end_turn")), ("stop_sequence", .null),
                ("usage", .object([("input_tokens", .int(5)), ("output_tokens", .int(4))])),
            ]).text
        case .gemini:
            return JSONValue.object([
                ("candidates", .array([.object([("content", .object([("role", .string("model")), ("parts", .array([.object([("text", .string(text))])]))])),
                                                ("finishReason", .string("STOP"))])])),
                ("usageMetadata", .object([("promptTokenCount", .int(5)), ("candidatesTokenCount", .int(4))])), ("modelVersion", .string(model)),
            ]).text
        }
    }

    static func stream(_ style: Style, model: String, words: [String]) -> [String] {
        let pieces = words.enumerated().map { i, w in (i == 0 ? "" : " ") + w }
        switch style {
        case .openai:
            func chunk(_ delta: JSONValue, _ finish: String? = nil) -> String {
                "data: " + JSONValue.object([
                    ("id", .string("chatcmpl-fake")), ("object", .string("chat.completion.chunk")), ("created", .int(1)), ("model", .string(model)),
                    ("choices", .array([.object([("index", .int(0)), ("delta", delta), ("finish_reason", finish.map(JSONValue.string) ?? .null)])])),
                ]).text + "\n\n"
            }
            let usage = "data: " + JSONValue.object([("id", .string("chatcmpl-fake")), ("object", .string("chat.completion.chunk")), ("created", .int(1)),
                                                     ("model", .string(model)), ("choices", .array([])),
                                                     ("usage", .object([("prompt_tokens", .int(5)), ("completion_tokens", .int(words.count)), ("total_tokens", .int(5 + words.count))]))]).text + "\n\n"
            return [chunk(.object([("role", .string("assistant")), ("content", .string(""))]))] + pieces.map { chunk(.object([("content", .string($0))])) }
                + [chunk(.object([]), "stop"), usage, "data: [DONE]\n\n"]
        case .anthropic:
            func ev(_ name: String, _ data: JSONValue) -> String { "event: \(name)\ndata: \(data.text)\n\n" }
            return [ev("message_start", .object([("type", .string("message_start")), ("message", .object([
                ("id", .string("msg_fake")), ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model)),
                ("content", .array([])), ("usage", .object([("input_tokens", .int(5)), ("output_tokens", .int(1))])),
            ]))])),
            ev("content_block_start", .object([("type", .string("content_block_start")), ("index", .int(0)),
                                               ("content_block", .object([("type", .string("text")), ("text", .string(""))]))]))]
                + pieces.map { ev("content_block_delta", .object([("type", .string("content_block_delta")), ("index", .int(0)),
                                                                  ("delta", .object([("type", .string("text_delta")), ("text", .string($0))]))])) }
                + [ev("content_block_stop", .object([("type", .string("content_block_stop")), ("index", .int(0))])),
                   ev("message_delta", .object([("type", .string("message_delta")), ("delta", .object([("stop_reason", .string("end_turn"))])),
                                                ("usage", .object([("output_tokens", .int(words.count))]))])),
                   ev("message_stop", .object([("type", .string("message_stop"))]))]
        case .gemini:
            return pieces.enumerated().map { i, p in
                var fields: [(String, JSONValue)] = [("content", .object([("role", .string("model")), ("parts", .array([.object([("text", .string(p))])]))]))]
                var top: [(String, JSONValue)] = [("modelVersion", .string(model))]
                if i == pieces.count - 1 {
                    fields.append(("finishReason", .string("STOP")))
                    top.append(("usageMetadata", .object([("promptTokenCount", .int(5)), ("candidatesTokenCount", .int(words.count))])))
                }
                return "data: " + JSONValue.object([("candidates", .array([.object(fields)]))] + top).text + "\r\n\r\n"
            }
        }
    }

    /// One connection: collects each request, then answers it (or not) as scripted.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let provider: FakeLLMProvider
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(provider: FakeLLMProvider) { self.provider = provider }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body.clear()
            case .body(var b):
                body.writeBuffer(&b)
            case .end:
                guard let head else { return }
                let path = String(head.uri.prefix { $0 != "?" })
                let behaviour = provider.arrived(Recorded(path: path, headers: head.headers, body: String(buffer: body)))
                let json = (try? JSONParser.parse(body.readableBytesView)) ?? .null
                guard let answer = provider.answer(path: path, body: json, behaviour: behaviour) else { return }
                write(answer, context: context)
            }
        }

        private func write(_ a: Answer, context: ChannelHandlerContext) {
            var h = HTTPHeaders()
            h.add(name: "content-type", value: a.stream && a.status == 200 ? "text/event-stream" : "application/json")
            for (n, v) in a.headers { h.add(name: n, value: v) }
            if !a.stream || a.status != 200 { h.add(name: "content-length", value: String(a.body.joined().utf8.count)) }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: a.status), headers: h))), promise: nil)
            for (i, part) in a.body.enumerated() {
                if let cut = a.cutAfter, i == cut {
                    context.flush()
                    context.close(promise: nil)
                    return
                }
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: part)))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
