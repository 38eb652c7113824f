import Foundation
import GatewayCore
import NIOCore
import NIOHTTP1

/// Why an attempt failed, kept to decide what comes next and to report the last one.
struct AttemptFailure {
    /// The provider's status, or nil when no answer came (connect, timeout, cut).
    var status: Int?
    var message: String
    var retryAfter: Duration?
    var condition: LLMRetryConfig.Condition
    var trigger: LLMModelConfig.FallbackTrigger?
}

/// The attempts: pick a deployment, call it, and on failure retry (with backoff that honours
/// `retry-after`), cool the deployment down, or fall back to the next model group.
extension LLMExchange: UpstreamCallSink {
    func startGroup() {
        guard let group = groups.first else { return finishFailed() }
        triedInGroup = []
        attemptsLeftInGroup = 1 + snapshot.retries.attempts
        guard ProviderRequest.supports(group.deployments.first?.style ?? .openai, endpoint) || group.deployments.contains(where: { ProviderRequest.supports($0.style, endpoint) }) else {
            return fail(ProblemDetails(status: .badRequest, title: "The model `\(group.name)` cannot serve \(request.path)"))
        }
        startAttempt()
    }

    func startAttempt() {
        guard !done, let group = groups.first else { return }
        guard attemptsLeftInGroup > 0, let (index, key) = routing.begin(group, tried: triedInGroup, now: Self.now()) else {
            if lastFailure == nil {
                lastFailure = AttemptFailure(status: nil, message: "every deployment of `\(group.name)` is cooling down after repeated failures",
                                             retryAfter: nil, condition: .status(503), trigger: .errors)
            }
            return nextGroup(.errors)
        }
        attemptsLeftInGroup -= 1
        attempts += 1
        // Only a choice among several deployments looks at what was tried.
        if group.deployments.count > 1 { triedInGroup.insert(index) }
        let d = group.deployments[index]
        guard ProviderRequest.supports(d.style, endpoint) else {
            routing.end(d, success: nil, firstByteNanos: nil, retryAfter: nil, now: Self.now())
            lastFailure = AttemptFailure(status: 400, message: "`\(group.name)` cannot serve \(request.path) through \(d.provider)", retryAfter: nil,
                                         condition: .status(400), trigger: nil)
            return startAttempt()
        }
        current = (d, NIODeadline.now().uptimeNanoseconds)
        upstreamHead = nil
        buffered = ByteBuffer()
        sse = SSEParser()
        encoder = nil
        firstByteNanos = nil
        let shape = ProviderRequest.shape(dialect, d.style)
        passthroughStream = shape == .passthrough
        switch d.style {
        case .openai, .azureOpenAI: source = OpenAIStreamSource()
        case .anthropic: source = AnthropicTranslation.StreamToChat(includeUsage: true)
        case .gemini: source = GeminiTranslation.StreamToChat(includeUsage: true, model: d.model)
        }
        guard let r = ProviderRequest.make(endpoint: endpoint, dialect: dialect, deployment: d, key: key, body: parsed, stream: stream,
                                           includeUsage: includeUsage, incoming: request.head, requestID: request.requestID, allocator: client.allocator)
        else {
            // Translation needs the whole body, and it is not valid JSON.
            routing.end(d, success: nil, firstByteNanos: nil, retryAfter: nil, now: Self.now())
            current = nil
            return fail(RequestBody.problem(parsed.raw))
        }
        let pool = client.loopContext.pool(for: d.poolKey)
        let call = UpstreamCall(pool: pool, head: r.head, body: r.body, deadline: d.timeout, stall: d.stallTimeout, sink: self)
        self.call = call
        call.start()
    }

    /// Moves to the next model group (a fallback) if `trigger` allows it; otherwise reports.
    func nextGroup(_ trigger: LLMModelConfig.FallbackTrigger) {
        guard let group = groups.first else { return finishFailed() }
        guard group.fallbackOn.contains(trigger), groups.count > 1 else { return finishFailed() }
        groups.removeFirst()
        startGroup()
    }

    /// Nothing answered: the last failure, in the caller's dialect.
    func finishFailed() {
        let f = lastFailure ?? AttemptFailure(status: nil, message: "no deployment could be tried", retryAfter: nil, condition: .status(503), trigger: nil)
        let status: HTTPResponseStatus
        switch (f.status, f.condition) {
        case (let s?, _): status = HTTPResponseStatus(statusCode: s)
        case (nil, .timeout): status = .gatewayTimeout
        case (nil, .status(503)): status = .serviceUnavailable
        default: status = .badGateway
        }
        var p = ProblemDetails(status: status, title: f.message)
        p.headers = [("x-triplegate-attempts", String(attempts))]
        if let after = f.retryAfter { p.headers.append(("retry-after", String(max(1, after.components.seconds)))) }
        if f.trigger == .contextWindow { p.code = .contextLengthExceeded }
        genAI.attempts = attempts
        fail(p)
    }

    /// An attempt failed before anything reached the client: retry, fall back, or report.
    func attemptFailed(_ f: AttemptFailure) {
        call = nil
        guard let (d, _) = current else { return }
        current = nil
        let providerFault = f.status.map { $0 >= 500 || $0 == 429 || $0 == 408 } ?? true
        routing.end(d, success: providerFault ? false : nil, firstByteNanos: nil, retryAfter: f.retryAfter, now: Self.now())
        lastFailure = f
        if let trigger = f.trigger { return nextGroup(trigger) }
        guard snapshot.retries.on.contains(f.condition) else { return finishFailed() }
        guard attemptsLeftInGroup > 0 else { return nextGroup(.errors) }
        let retries = snapshot.retries
        var delay = Self.backoff(retries, attempt: 1 + snapshot.retries.attempts - attemptsLeftInGroup)
        if let asked = f.retryAfter {
            // A wait longer than max_delay is not waited for here: another deployment (or the
            // fallback) may answer now, and the cooldown keeps this one out meanwhile.
            delay = asked <= retries.maxDelay ? asked : .zero
        }
        let nanos = delay.nanoseconds
        if nanos <= 0 { return startAttempt() }
        retryTimer = client.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanos)) { [weak self] in
            self?.retryTimer = nil
            self?.startAttempt()
        }
    }

    /// Full-jitter backoff: a random wait up to base × 2^(attempt-1), capped at max_delay.
    static func backoff(_ r: LLMRetryConfig, attempt: Int) -> Duration {
        let base = r.baseDelay.nanoseconds
        let cap = r.backoff == .constant ? base : min(r.maxDelay.nanoseconds, base << min(max(attempt - 1, 0), 20))
        return cap <= 0 ? .zero : .nanoseconds(Int64.random(in: 0...cap))
    }

    // MARK: UpstreamCallSink

    func callHead(_ head: HTTPResponseHead) {
        guard !done, let (_, started) = current else { return }
        upstreamHead = head
        client.noteUpstream(address: call?.address, latencyNanos: Int64(NIODeadline.now().uptimeNanoseconds - started))
    }

    func callBody(_ part: ByteBuffer) {
        guard !done, let head = upstreamHead else { return }
        if firstByteNanos == nil, let (_, started) = current { firstByteNanos = Int64(NIODeadline.now().uptimeNanoseconds - started) }
        guard stream, (200..<300).contains(head.status.code) else {
            if buffered.readableBytes + part.readableBytes > Self.maxResponseBytes {
                call?.cancel()
                return callFailed(.broken("response larger than \(Self.maxResponseBytes) bytes"))
            }
            if buffered.readableBytes == 0 { buffered = part; return }  // one read: kept as it came
            var part = part
            buffered.writeBuffer(&part)
            return
        }
        streamBytes(part)
    }

    func callReadComplete() {
        if committed, !done { client.flush() }
    }

    func callEnd() {
        guard !done, let head = upstreamHead else { return }
        call = nil
        let status = Int(head.status.code)
        guard (200..<300).contains(status) else { return attemptFailed(classify(status: status, head: head, body: buffered)) }
        if stream { return streamEnded() }
        succeed(body: buffered, head: head)
    }

    func callFailed(_ failure: UpstreamCall.Failure) {
        guard !done else { return }
        call = nil
        if committed { return streamBroke(message: Self.describe(failure)) }
        attemptFailed(AttemptFailure(status: nil, message: Self.describe(failure), retryAfter: nil, condition: failure.condition, trigger: nil))
    }

    static func describe(_ f: UpstreamCall.Failure) -> String {
        switch f {
        case .connect: return "the provider could not be reached"
        case .timeout: return "the provider did not finish its answer in time"
        case .stalled: return "the provider stopped sending"
        case .broken: return "the provider's answer was cut off"
        }
    }

    /// Reads a provider's error answer: its message, retry-after, and whether it is a context
    /// window or content policy refusal (which fall back instead of retrying).
    func classify(status: Int, head: HTTPResponseHead, body: ByteBuffer) -> AttemptFailure {
        let json = try? JSONParser.parse(body.readableBytesView)
        let error = json?["error"]
        // The provider's words reach the caller, without the keys and addresses it may echo.
        let message = (error?["message"]?.stringValue ?? error?.stringValue ?? json?["message"]?.stringValue)
            .map { SecretScrubber.scrub($0, secrets: current?.0.apiKeys ?? []) } ?? "the provider answered \(status)"
        let code = (error?["code"]?.stringValue ?? error?["type"]?.stringValue ?? error?["status"]?.stringValue ?? "").lowercased()
        let lower = message.lowercased()
        var trigger: LLMModelConfig.FallbackTrigger?
        if status == 400 || status == 413 {
            if code == "context_length_exceeded" || lower.contains("context length") || lower.contains("context window")
                || lower.contains("prompt is too long") || lower.contains("maximum number of tokens") || lower.contains("too many tokens")
            {
                trigger = .contextWindow
            } else if code == "content_filter" || code == "content_policy_violation" || lower.contains("content management policy")
                || lower.contains("content policy") || lower.contains("safety")
            {
                trigger = .contentPolicy
            }
        }
        return AttemptFailure(status: status, message: message, retryAfter: RetryAfter.delay(in: head.headers, now: Date()),
                              condition: .status(status), trigger: trigger)
    }
}
