import GatewayCore
import NIOCore
import NIOHTTP1

/// A successful attempt's answer, in the caller's dialect: whole bodies translated (or passed
/// through), streams forwarded event by event.
extension LLMExchange {
    /// Headers that tell the caller what happened.
    func servedHeaders(_ d: Deployment) -> [(String, String)] {
        [("x-triplegate-model", d.model), ("x-triplegate-provider", d.provider), ("x-triplegate-attempts", String(attempts))]
    }

    /// A whole (non-streaming) answer.
    func succeed(body: ByteBuffer, head: HTTPResponseHead) {
        guard let (d, _) = current else { return }
        let shape = ProviderRequest.shape(dialect, d.style)
        var out = body
        let responseModel: String?
        if shape == .translated {
            guard let parsed = try? JSONParser.parse(body.readableBytesView) else { return notJSON() }
            let pivot: JSONValue
            switch d.style {
            case .openai, .azureOpenAI: pivot = parsed
            case .anthropic: pivot = AnthropicTranslation.chatResponse(fromMessage: parsed)
            case .gemini: pivot = GeminiTranslation.chatResponse(fromGemini: parsed, model: d.model)
            }
            let answer = dialect == .openai ? pivot : AnthropicIngress.message(fromChat: pivot)
            out = answer.buffer(client.allocator)
            noteUsage(pivot["usage"], from: .openai)
            responseModel = pivot["model"]?.stringValue
        } else {
            // Passed through as the provider wrote it: only `usage` and `model` are read.
            guard let fields = JSONScanner.values(["usage", "model"], in: body) else { return notJSON() }
            noteUsage(fields["usage"], from: d.style)
            responseModel = fields["model"]?.stringValue
        }
        genAI.responseModel = responseModel ?? d.model
        recordSuccess(d)
        current = nil
        genAI.provider = d.provider
        genAI.attempts = attempts
        answer(status: head.status, body: out, headers: servedHeaders(d))
    }

    private func notJSON() {
        attemptFailed(AttemptFailure(status: nil, message: "the provider's answer was not JSON", retryAfter: nil, condition: .status(502), trigger: nil))
    }

    /// The attempt answered: routing learns it, the gen_ai metrics count it.
    func recordSuccess(_ d: Deployment) {
        routing.end(d, success: true, firstByteNanos: firstByteNanos, retryAfter: nil, now: Self.now())
        if let (_, started) = current {
            d.metrics.record(genAI, durationNanos: Int64(NIODeadline.now().uptimeNanoseconds - started), firstByteNanos: firstByteNanos)
        }
    }

    /// Token counts for the log and span, from a usage object in `style`'s shape.
    func noteUsage(_ usage: JSONValue?, from style: APIStyle) {
        guard let u = usage, u != .null else { return }
        if style == .anthropic {
            genAI.inputTokens = (u["input_tokens"]?.intValue ?? 0) + (u["cache_read_input_tokens"]?.intValue ?? 0) + (u["cache_creation_input_tokens"]?.intValue ?? 0)
            genAI.outputTokens = u["output_tokens"]?.intValue
        } else {
            genAI.inputTokens = u["prompt_tokens"]?.intValue ?? genAI.inputTokens
            genAI.outputTokens = u["completion_tokens"]?.intValue ?? genAI.outputTokens
        }
    }

    // MARK: Streams

    func makeEncoder() -> any ClientStreamEncoder {
        dialect == .openai ? OpenAIStreamEncoder(includeUsage: includeUsage) : AnthropicIngress.StreamFromChat()
    }

    /// Provider stream bytes: split into events, translated (or passed), written to the client.
    /// Nothing reaches the client before the first whole event, so an attempt whose stream
    /// fails before that still fails over.
    func streamBytes(_ part: ByteBuffer) {
        var out = client.allocator.buffer(capacity: part.readableBytes + 64)
        do {
            for event in try sse.feed(part) { try forward(event, into: &out) }
        } catch let e as StreamError {
            return streamFailed(e, pending: out)
        } catch {
            call?.cancel()
            return streamFailed(StreamError(message: "the provider's stream had an event larger than \(SSEParser.maxEventBytes) bytes"), pending: out)
        }
        write(out)
    }

    private func forward(_ event: SSEEvent, into out: inout ByteBuffer) throws(StreamError) {
        let chunks = try source!.translate(event)
        for c in chunks { if let u = c["usage"], u != .null { noteUsage(u, from: .openai) } }
        if let m = chunks.first?["model"]?.stringValue, genAI.responseModel == nil { genAI.responseModel = m }
        if passthroughStream {
            // OpenAI's usage-only chunk is dropped for callers that did not ask for usage.
            if dialect == .openai, !includeUsage, chunks.count == 1, chunks[0]["choices"]?.arrayValue?.isEmpty == true { return }
            var raw = event.raw
            out.writeBuffer(&raw)
        } else {
            if encoder == nil { encoder = makeEncoder() }
            for c in chunks { encoder!.encode(c, into: &out) }
        }
    }

    private func write(_ out: ByteBuffer) {
        guard out.readableBytes > 0 else { return }
        if !committed { commit() }
        client.writeResponseBody(out)
    }

    /// Sends the stream's head: from here on a failure ends the stream with an error event.
    func commit() {
        guard let (d, _) = current else { return }
        committed = true
        var h = HTTPHeaders()
        h.add(name: "content-type", value: "text/event-stream; charset=utf-8")
        h.add(name: "cache-control", value: "no-cache")
        h.add(name: "x-request-id", value: request.requestID)
        for (n, v) in servedHeaders(d) { h.add(name: n, value: v) }
        genAI.provider = d.provider
        genAI.attempts = attempts
        client.writeResponseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: h))
    }

    func streamEnded() {
        guard let (d, _) = current else { return }
        var out = client.allocator.buffer(capacity: 256)
        do {
            if let last = sse.finish() { try forward(last, into: &out) }
        } catch {
            return streamFailed(error, pending: out)
        }
        guard source?.complete == true else {
            write(out)
            return streamBroke(message: "the provider's stream ended before its last event")
        }
        if !passthroughStream {
            if encoder == nil { encoder = makeEncoder() }
            for c in source!.finish() {
                if let u = c["usage"], u != .null { noteUsage(u, from: .openai) }
                encoder!.encode(c, into: &out)
            }
            encoder!.finish(into: &out)
        }
        if !committed { commit() }
        if out.readableBytes > 0 { client.writeResponseBody(out) }
        recordSuccess(d)
        current = nil
        done = true
        client.noteGenAI(genAI)
        client.writeResponseEnd(nil)
    }

    /// The provider's stream carried an error event.
    private func streamFailed(_ e: StreamError, pending: ByteBuffer) {
        if !committed {
            call?.cancel()
            call = nil
            let status = e.type == "overloaded_error" ? 529 : e.type == "rate_limit_error" ? 429 : 500
            return attemptFailed(AttemptFailure(status: status, message: e.message, retryAfter: nil, condition: .status(status), trigger: nil))
        }
        write(pending)
        streamBroke(message: e.message)
    }

    /// Ends a committed stream after a failure: an error event in the caller's dialect, so no
    /// SDK mistakes the cut for a finished answer.
    func streamBroke(message: String) {
        guard !done else { return }
        call?.cancel()
        call = nil
        if let (d, _) = current {
            routing.end(d, success: false, firstByteNanos: nil, retryAfter: nil, now: Self.now())
        }
        current = nil
        if !committed { commit() }
        var out = client.allocator.buffer(capacity: 256)
        (encoder ?? makeEncoder()).error(message, status: 502, into: &out)
        client.writeResponseBody(out)
        done = true
        client.noteGenAI(genAI)
        client.writeResponseEnd(nil)
    }
}
