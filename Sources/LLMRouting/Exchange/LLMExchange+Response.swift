import GatewayCore
import NIOCore
import NIOHTTP1

/// A successful attempt's answer, in the caller's dialect: whole bodies translated (or passed
/// through), streams forwarded event by event.
extension LLMExchange {
    /// Headers that tell the caller what happened, added to the answer's list. The spend
    /// headers (`spendRooms`) follow the list as bytes.
    func addServedHeaders(_ d: Deployment, to h: inout [(String, String)]) {
        h.append(("x-triplegate-model", d.model))
        h.append(("x-triplegate-provider", d.provider))
        h.append(("x-triplegate-attempts", String(attempts)))
        if let cachePlan { h.append(("x-triplegate-cache", cachePlan.header)) }
    }

    /// At most how many headers `addServedHeaders` adds.
    static let servedHeaderCount = 4

    /// What is read from a passed-through answer: `usage` and `model`.
    static let answerKeys: [[UInt8]] = [Array("usage".utf8), Array("model".utf8)]

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
            switch d.style {
            case .openai, .azureOpenAI: noteUsage(TokenUsage(openAI: parsed["usage"]))
            case .anthropic: noteUsage(TokenUsage(anthropic: parsed["usage"]))
            case .gemini: noteUsage(TokenUsage(gemini: parsed["usageMetadata"]))
            }
            responseModel = pivot["model"]?.stringValue
            if cachePlan?.write == true { cacheCompletion = pivot }
        } else {
            // Passed through as the provider wrote it: only `usage` and `model` are read.
            let read = body.withUnsafeReadableBytes { raw -> (usage: TokenUsage?, model: String?)? in
                guard let s = JSONScanner.slots(Self.answerKeys, in: raw) else { return nil }
                let usage = s[0].flatMap { r in
                    let u = UnsafeRawBufferPointer(rebasing: raw[r])
                    return d.style == .anthropic ? TokenUsage(anthropicBytes: u) : TokenUsage(openAIBytes: u)
                }
                return (usage, s[1].flatMap { (try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[$0])))?.stringValue })
            }
            guard let read else { return notJSON() }
            noteUsage(read.usage)
            responseModel = read.model
            if cachePlan?.write == true, let whole = try? JSONParser.parse(body.readableBytesView) {
                cacheCompletion = d.style == .anthropic ? AnthropicTranslation.chatResponse(fromMessage: whole) : whole
            }
        }
        genAI.responseModel = responseModel ?? d.model
        recordSuccess(d)
        current = nil
        served = d
        genAI.provider = d.provider
        genAI.attempts = attempts
        answer(status: head.status, body: out, headerCount: Self.servedHeaderCount, lines: spendRooms) { addServedHeaders(d, to: &$0) }
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

    /// What the provider said the call used, for the ledger, the log and the span.
    func noteUsage(_ u: TokenUsage?) {
        guard let u else { return }
        usage = u
        genAI.inputTokens = u.prompt
        genAI.outputTokens = u.output
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
        if readsPassedChunks, assembler == nil { return try forwardAsItCame(event, into: &out) }
        let chunks = try source!.translate(event)
        if assembler != nil {
            // The kept copy must be what the caller got: bytes that are not UTF-8 would come
            // back from the parsed text changed.
            if !event.raw.readableBytesView.withContiguousStorageIfAvailable({ String(validating: $0, as: UTF8.self) != nil })! {
                assembler!.sawUnfaithfulBytes()
            }
            for c in chunks { assembler!.add(c) }
        }
        for c in chunks {
            if let u = c["usage"], u != .null { noteUsage(TokenUsage(openAI: u)) }
            // What reached the caller, counted in case the stream is cut before its usage.
            if let delta = c["choices"]?.arrayValue?.first?["delta"] {
                deliveredChars += delta["content"]?.stringValue?.utf8.count ?? 0
                for call in delta["tool_calls"]?.arrayValue ?? [] { deliveredChars += call["function"]?["arguments"]?.stringValue?.utf8.count ?? 0 }
            }
        }
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

    /// An OpenAI chunk for an OpenAI caller: read from its bytes (`OpenAIChunkReading`) and
    /// forwarded as it came, with what `forward` reads from the tree.
    private func forwardAsItCame(_ event: SSEEvent, into out: inout ByteBuffer) throws(StreamError) {
        switch try OpenAIChunkReading.read(event, model: genAI.responseModel == nil) {
        case .done:
            _ = try source!.translate(event)  // marks the stream complete
        case .nothing:
            break
        case .chunk(let c):
            if let u = c.usage { noteUsage(u) }
            deliveredChars += c.deliveredBytes
            if let m = c.model, genAI.responseModel == nil { genAI.responseModel = m }
            // OpenAI's usage-only chunk is dropped for callers that did not ask for usage.
            if !includeUsage, c.usageOnly { return }
        }
        var raw = event.raw
        out.writeBuffer(&raw)
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
        // One list, with room for what the listener adds (see `answer`).
        var h: [(String, String)] = []
        h.reserveCapacity(8 + Self.servedHeaderCount)
        h.append(("content-type", "text/event-stream; charset=utf-8"))
        h.append(("cache-control", "no-cache"))
        h.append(("x-request-id", request.requestID))
        addServedHeaders(d, to: &h)
        genAI.provider = d.provider
        genAI.attempts = attempts
        client.writeResponseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: HTTPHeaders(consume h)), lines: spendRooms)
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
                assembler?.add(c)
                if let u = c["usage"], u != .null { noteUsage(TokenUsage(openAI: u)) }
                encoder!.encode(c, into: &out)
            }
            encoder!.finish(into: &out)
        }
        if !committed { commit() }
        if out.readableBytes > 0 { client.writeResponseBody(out) }
        // The provider's own usage (cache reads and writes apart) beats the pivot's.
        noteUsage(source?.nativeUsage)
        cacheCompletion = assembler?.completion
        recordSuccess(d)
        current = nil
        served = d
        done = true
        finished(status: 200)
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

    /// Bills a stream that ended early by what was delivered: the provider's usage if it came,
    /// else a count (about four bytes of text per token), and marks it as estimated.
    func estimateDelivered() {
        noteUsage(source?.nativeUsage)
        guard usage == nil || usage!.output == 0 else { return }
        var u = usage ?? TokenUsage(input: ((parsed?.raw.readableBytes ?? 0) + 3) / 4)
        u.output = (deliveredChars + 3) / 4
        noteUsage(u)
        estimated = true
    }

    /// Ends a committed stream after a failure: an error event in the caller's dialect, so no
    /// SDK mistakes the cut for a finished answer.
    func streamBroke(message: String) {
        guard !done else { return }
        call?.cancel()
        call = nil
        if let (d, _) = current {
            routing.end(d, success: false, firstByteNanos: nil, retryAfter: nil, now: Self.now())
            served = d
        }
        current = nil
        if !committed { commit() }
        var out = client.allocator.buffer(capacity: 256)
        (encoder ?? makeEncoder()).error(message, status: 502, into: &out)
        client.writeResponseBody(out)
        done = true
        estimateDelivered()
        finished(status: 200)
        client.writeResponseEnd(nil)
    }
}
