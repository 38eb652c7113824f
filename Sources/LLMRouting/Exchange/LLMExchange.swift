import Foundation
import GatewayCore
import NIOCore
import NIOHTTP1

/// One AI gate request: reads the body, finds the model, runs the model's policies, then tries
/// deployments (retries, cooldown, fallbacks) until one answers, and answers in the caller's
/// dialect. Lives on the client connection's event loop; touched only there.
final class LLMExchange: RequestExchange {
    unowned let client: ClientResponder
    let snapshot: AISnapshot
    let routing: RoutingState
    let endpoint: Endpoint
    let request: MountedRequest
    let dialect: ClientDialect
    var body: ByteBuffer
    var bodyTooLarge = false
    /// Set once the client left or the response ended: late callbacks do nothing.
    var done = false

    // The request as read.
    var parsed: RequestBody!
    var stream = false
    var includeUsage = false
    var requestedModel = ""

    // Failover state.
    /// Model groups still to try, in order (the asked model, then its fallbacks).
    var groups: [ModelGroup] = []
    var attemptsLeftInGroup = 0
    var triedInGroup: Set<Int> = []
    var attempts = 0
    var call: UpstreamCall?
    var current: (deployment: Deployment, started: UInt64)?
    var retryTimer: Scheduled<Void>?
    /// The last failure, reported if nothing succeeds.
    var lastFailure: AttemptFailure?

    // The current attempt's response.
    var upstreamHead: HTTPResponseHead?
    var buffered = ByteBuffer()
    var sse = SSEParser()
    var source: (any PivotStreamSource)?
    var encoder: (any ClientStreamEncoder)?
    var passthroughStream = false
    /// A passed-through OpenAI stream: its chunks are read from their bytes.
    var readsPassedChunks: Bool { passthroughStream && dialect == .openai }
    /// The client has seen the response head: failures can no longer fail over.
    var committed = false
    var firstByteNanos: Int64?
    var genAI = GenAIRecord()

    // Limits and budgets.
    let spend: Spend
    var reservation: SpendCounters.Reservation?
    /// What `x-ratelimit-*` and `x-triplegate-budget-remaining-usd` tell every answer.
    var spendRooms = SpendCounters.Rooms()

    // What the ledger gets.
    let ledger: LedgerWriter?
    let started = NIODeadline.now()
    /// The deployment whose answer the caller got (or started to get).
    var served: Deployment?
    var usage: TokenUsage?
    var estimated = false
    /// Bytes of text and tool arguments streamed to the caller, for billing a cut stream.
    var deliveredChars = 0

    // Caching (`llm.cache`).
    let cache: CacheContext?
    /// An embedding call made for the cache: no policies, no reservation of its own.
    let internalCall: Bool
    var cachePlan: CachePlan?
    /// The answer as a whole chat completion, once it is complete, for the cache.
    var cacheCompletion: JSONValue?
    var assembler: CompletionAssembler?
    /// `exact` or `semantic` when the cache answered, for the ledger.
    var cacheHit = "none"
    var cacheSavedMicros: Int64 = 0

    /// Response bodies (non-streaming, or errors) are buffered up to this size.
    static let maxResponseBytes = 32 * 1024 * 1024

    init(client: ClientResponder, snapshot: AISnapshot, routing: RoutingState, endpoint: Endpoint, request: MountedRequest, ledger: LedgerWriter?, spend: Spend,
         cache: CacheContext?, internalCall: Bool = false) {
        self.client = client
        self.cache = cache
        self.internalCall = internalCall
        self.spend = spend
        self.ledger = ledger
        self.snapshot = snapshot
        self.routing = routing
        self.endpoint = endpoint
        self.request = request
        self.dialect = endpoint.dialect
        self.body = ByteBuffer()
    }

    func requestBody(_ part: ByteBuffer) {
        guard !bodyTooLarge else { return }
        if snapshot.maxBodyBytes > 0, body.readableBytes + part.readableBytes > snapshot.maxBodyBytes {
            bodyTooLarge = true
            return
        }
        // A body that comes in one read is kept as it came: no copy.
        if body.readableBytes == 0 { body = part; return }
        var part = part
        body.writeBuffer(&part)
    }

    func requestEnd(_ trailers: HTTPHeaders?) {
        if bodyTooLarge {
            return fail(ProblemDetails(status: .payloadTooLarge, title: "Request body too large", detail: "limit is \(snapshot.maxBodyBytes) bytes"))
        }
        if endpoint == .models { return listModels() }
        guard request.head.method == .POST else {
            return fail(ProblemDetails(status: .methodNotAllowed, title: "Use POST for this endpoint", headers: [("allow", "POST")]))
        }
        guard let parsed = RequestBody(body) else { return fail(RequestBody.problem(body)) }
        self.parsed = parsed
        guard let model = parsed.field(.model)?.stringValue, !model.isEmpty else {
            return fail(ProblemDetails(status: .badRequest, title: "`model` is required", detail: "name one of the models GET /v1/models lists"))
        }
        if let problem = Self.checkShape(parsed, endpoint: endpoint) { return fail(problem) }
        requestedModel = model
        genAI.requestModel = model
        stream = parsed.field(.stream)?.boolValue == true && endpoint != .embeddings && endpoint != .countTokens
        includeUsage = parsed.field(.streamOptions)?["include_usage"]?.boolValue == true
        guard let group = snapshot.models[model] else {
            var p = ProblemDetails(status: .notFound, title: "The model `\(model)` does not exist or you do not have access to it")
            p.code = .modelNotFound
            return fail(p)
        }
        guard !internalCall else {
            groups = [group] + group.fallbacks.compactMap { snapshot.models[$0] }
            return startGroup()
        }
        runModelPolicies(group) { [self] in
            consultCache { [self] in
                reserveSpend(for: group) { [self] in
                    groups = [group] + group.fallbacks.compactMap { snapshot.models[$0] }
                    startGroup()
                }
            }
        }
    }

    /// The few fields whose absence or type every provider would refuse, checked before any call.
    static func checkShape(_ body: RequestBody, endpoint: Endpoint) -> ProblemDetails? {
        if let problem = body.countProblem() { return problem }
        switch endpoint {
        case .chatCompletions, .messages, .countTokens:
            let messages = body.startsArray(.messages)
            guard messages.isArray else {
                return ProblemDetails(status: .badRequest, title: "`messages` is required and must be an array")
            }
            if messages.isEmpty, endpoint == .chatCompletions { return ProblemDetails(status: .badRequest, title: "`messages` must not be empty") }
            if endpoint == .messages, body.field(.maxTokens)?.intValue == nil {
                return ProblemDetails(status: .badRequest, title: "max_tokens: Field required")
            }
        case .embeddings:
            if !body.has(.input) { return ProblemDetails(status: .badRequest, title: "`input` is required") }
        case .completions:
            if !body.has(.prompt) { return ProblemDetails(status: .badRequest, title: "`prompt` is required") }
        case .models:
            break
        }
        return nil
    }

    /// Reserves the call's worst case against every token limit and budget that applies; refuses
    /// (429, before any provider is called) when one has no room. The prompt estimate is the
    /// body's bytes / 3: conservative for every tokenizer in use (English text averages about
    /// four bytes a token, and JSON punctuation counts here too).
    private func reserveSpend(for group: ModelGroup, then proceed: @escaping () -> Void) {
        let rules = snapshot.spendRules
        guard !rules.isEmpty else { return proceed() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let worst = snapshot.worstCase(group, day: Int(now / 86_400_000))
        let prompt = (body.readableBytes + 2) / 3
        let output = endpoint == .embeddings || endpoint == .countTokens ? 0 : Self.worstOutput(parsed, maxOutput: worst.maxOutput)
        // Saturating throughout: a reservation that does not fit is a refusal, never a trap.
        let pico = Int64(prompt).multipliedSaturating(by: worst.input).addingSaturating(Int64(output).multipliedSaturating(by: worst.output))
        let request = SpendRequest(consumer: self.request.consumer?.name, team: self.request.consumer?.team, key: self.request.policyContext?.keyID, model: requestedModel,
                                   tokens: prompt.addingSaturating(output), costMicros: pico.addingSaturating(999_999) / 1_000_000)
        guard let redis = spend.redis else {
            return reserved(spend.counters.reserve(request, rules: rules, now: now), then: proceed)
        }
        let counters = spend.counters, loop = client.eventLoop
        redis.reserve(request, limits: rules.limits, budgets: rules.budgets, now: now, on: loop, rebuild: {
            counters.rebuildRedis(redis, limits: rules.limits, budgets: rules.budgets, now: now, on: loop)
        })
            .assumeIsolated().whenSuccess { [weak self] result in
                guard let self else { return }
                guard !self.done else {
                    // The caller left while Redis answered: give the reservation back.
                    if case .success(let r) = result { _ = redis.settle(r, tokens: 0, costMicros: 0, budgets: rules.budgets, on: self.client.eventLoop) }
                    return
                }
                self.reserved(result, then: proceed)
            }
    }

    /// The most output tokens a call can produce: the largest output limit it names (any of
    /// `max_tokens`, `max_completion_tokens`, `max_output_tokens`: a provider may honour
    /// whichever), capped by the model's, times every choice it asks for (`n`, `best_of`:
    /// each choice is billed). Validated by `countProblem` before.
    static func worstOutput(_ body: RequestBody, maxOutput: Int) -> Int {
        let asked = [body.count(.maxTokens), body.count(.maxCompletionTokens), body.count(.maxOutputTokens)].compactMap { $0 }.max()
        let perChoice = min(max(asked ?? maxOutput, 0), maxOutput)
        let choices = max(body.count(.n) ?? 1, body.count(.bestOf) ?? 1, 1)
        return perChoice.multipliedSaturating(by: choices)
    }

    private func reserved(_ result: Result<SpendCounters.Reservation, SpendRefusal>, then proceed: () -> Void) {
        switch result {
        case .success(let r):
            reservation = r
            spendRooms = r.rooms
            proceed()
        case .failure(let refusal):
            var p = ProblemDetails(status: .tooManyRequests, title: refusal.message,
                                   headers: [("retry-after", String(max(1, (refusal.resetMillis + 999) / 1000)))])
            p.code = refusal.kind == .budget ? .insufficientQuota : .rateLimitExceeded
            fail(p)
        }
    }

    /// Runs the model's own policies (acl, rate_limit) on the gate chain's final context.
    private func runModelPolicies(_ group: ModelGroup, then proceed: @escaping () -> Void) {
        guard !group.chain.isEmpty, let context = request.policyContext ?? baseContext() else { return proceed() }
        switch group.chain.run(context, on: client.eventLoop) {
        case .done(let verdict, _):
            if case .reject(let p) = verdict { return fail(p) }
            proceed()
        case .pending(let future):
            future.assumeIsolated().whenComplete { [weak self] result in
                guard let self, !self.done else { return }
                switch result {
                case .success((.reject(let p), _)): self.fail(p)
                case .success: proceed()
                case .failure: self.fail(ProblemDetails(status: .internalServerError))
                }
            }
        }
    }

    private func baseContext() -> PolicyContext? {
        PolicyContext(method: request.head.method, headers: request.head.headers, clientIP: request.clientIP, query: request.query,
                      service: "llm", route: endpoint.rawValue, now: Int64(NIODeadline.now().uptimeNanoseconds), eventLoop: client.eventLoop)
    }

    /// `GET /v1/models`: the models this caller may use (those whose policies would let it in);
    /// `GET /v1/models/{name}`: one of them.
    private func listModels() {
        let context = request.policyContext ?? baseContext()
        func visible(_ name: String) -> Bool {
            guard let group = snapshot.models[name] else { return false }
            guard !group.chain.isEmpty, let context else { return true }
            return group.chain.authorizes(context)
        }
        func model(_ name: String) -> JSONValue {
            .obj([("id", .string(name)), ("object", .string("model")), ("created", .int(0)), ("owned_by", .string("triplegate"))])
        }
        if request.path.count > "/v1/models/".count {
            let name = String(request.path.dropFirst("/v1/models/".count))
            guard visible(name) else {
                var p = ProblemDetails(status: .notFound, title: "The model `\(name)` does not exist or you do not have access to it")
                p.code = .modelNotFound
                return fail(p)
            }
            return answer(status: .ok, json: model(name), headers: [])
        }
        let list = JSONValue.obj([("object", .string("list")), ("data", .array(snapshot.modelNames.filter(visible).map(model)))])
        answer(status: .ok, json: list, headers: [])
    }

    func clientWritabilityChanged(isWritable: Bool) {
        if isWritable { call?.resumeReads() } else { call?.pauseReads() }
    }

    func clientClosed() {
        guard !done else { return }
        done = true
        retryTimer?.cancel()
        call?.cancel()
        if let current {
            routing.end(current.deployment, success: nil, firstByteNanos: nil, retryAfter: nil, now: Self.now())
            // The provider bills the prompt it received and what it generated, whether or not
            // the caller stays for the answer: a call the caller left is billed its prompt
            // (estimated from the body when the provider never said) and what was delivered.
            // The row's status, 499, says the caller left.
            served = current.deployment
            estimateDelivered()
        }
        current = nil
        call = nil
        finished(status: 499)
    }

    // MARK: Answers

    /// Refuses the request in the caller's dialect.
    func fail(_ problem: ProblemDetails) {
        guard !done else { return }
        done = true
        var p = problem
        p.requestID = request.requestID
        spendRooms.appendHeaders(to: &p.headers)
        finished(status: Int(p.status.code))
        client.respond(p)
    }

    /// Answers with a JSON body and ends the response.
    func answer(status: HTTPResponseStatus, json: JSONValue, headers: [(String, String)]) {
        var b = client.allocator.buffer(capacity: 512)
        json.write(to: &b)
        answer(status: status, body: b, headers: headers)
    }

    func answer(status: HTTPResponseStatus, body: ByteBuffer, headers: [(String, String)]) {
        answer(status: status, body: body, headerCount: headers.count, lines: SpendCounters.Rooms()) { $0.append(contentsOf: headers) }
    }

    /// Answers with `body`; `addHeaders` adds `headerCount` headers to the answer's list, and
    /// `lines` (the spend headers) follow it.
    func answer(status: HTTPResponseStatus, body: ByteBuffer, headerCount: Int, lines: SpendCounters.Rooms,
                addHeaders: (inout [(String, String)]) -> Void) {
        guard !done else { return }
        done = true
        // Built as one list: the encoder checks every name and value as it writes them. Room
        // is left for what the listener adds (policy headers such as `ratelimit-*`, `connection`).
        var list: [(String, String)] = []
        list.reserveCapacity(8 + headerCount)
        list.append(("content-type", "application/json"))
        list.append(("content-length", String(body.readableBytes)))
        list.append(("x-request-id", request.requestID))
        addHeaders(&list)
        finished(status: Int(status.code))
        client.writeResponseHead(HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(consume list)), lines: lines)
        client.writeResponseBody(body)
        client.writeResponseEnd(nil)
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// The call is over: its access-log fields, its reservation settled with what it used, and
    /// its ledger row (calls that named a model).
    func finished(status: Int) {
        client.annotate(genAI)
        guard !requestedModel.isEmpty else { return }
        var cost = CallCost(picoUSD: 0)
        let nowDate = Date()
        let today = Int(nowDate.timeIntervalSince1970 / 86_400)
        var servedModel = served?.model
        var spec = served?.spec
        if let d = served, status == 200, case .other(let answered, let priced) = ServedModel.judge(answered: genAI.responseModel, deployment: d) {
            // Another model answered: said, counted, and billed as what was served when priced.
            d.metrics.servedModelMismatches.increment()
            ServedModel.logger.warning("a provider answered with another model than asked", metadata: [
                "provider": "\(d.provider)", "asked": "\(d.model)", "answered": "\(answered.prefix(100))", "billed_as": "\(priced ? answered : d.model)",
                "request_id": "\(request.requestID)"])
            servedModel = String(answered.prefix(100))
            if priced { spec = d.providerModels[answered] }
        }
        if let u = usage, let prices = spec?.price(onDay: today) { cost = CallCost(u, at: prices) }
        if status == 200 { keepForCache(cost: cost) }
        if let reservation {
            self.reservation = nil
            let tokens = usage.map { $0.prompt + $0.output } ?? 0
            if let redis = spend.redis {
                let alerts = spend.alerts, loop = client.eventLoop
                redis.settle(reservation, tokens: tokens, costMicros: cost.microUSD, budgets: snapshot.spendRules.budgets, on: loop).whenSuccess { fired in
                    if !fired.isEmpty { alerts.fire(fired, on: loop) }
                }
            } else {
                let alerts = spend.counters.settle(reservation, tokens: tokens, costMicros: cost.microUSD, rules: snapshot.spendRules)
                if !alerts.isEmpty { spend.alerts.fire(alerts, on: client.eventLoop) }
            }
        }
        guard let ledger else { return }
        var tags = LedgerRow.tags(fromHeader: request.head.headers.first(name: "x-triplegate-tags"))
        if let metadata = parsed?.field(.metadata)?.objectFields {
            for (k, v) in metadata where !tags.contains(where: { $0.0 == k }) && tags.count < 16 {
                if let s = v.stringValue, !k.isEmpty, k.count <= 64, s.count <= 64 { tags.append((k, s)) }
            }
            tags.sort { $0.0 < $1.0 }
        }
        let now = NIODeadline.now()
        ledger.record(LedgerRow(
            timeMillis: Int64(nowDate.timeIntervalSince1970 * 1000), requestID: request.requestID, consumer: request.consumer?.name,
            team: request.consumer?.team, keyID: request.policyContext?.keyID, tags: tags, model: requestedModel, provider: served?.provider, servedModel: servedModel,
            attempts: attempts, usage: usage ?? TokenUsage(), costMicros: cost.microUSD, savedByCacheMicros: cost.savedMicroUSD + cacheSavedMicros,
            cacheHit: cacheHit, status: status, latencyMillis: (now - started).nanoseconds / 1_000_000, timeToFirstTokenMillis: firstByteNanos.map { $0 / 1_000_000 },
            estimated: estimated))
    }
}
