import Foundation
import GatewayCore
import NIOCore
import NIOHTTP1
import SemanticCache

/// What the cache decided for one request that went on to a provider.
struct CachePlan {
    var request: CacheRequest
    /// `miss` or `bypass`, for `x-triplegate-cache`.
    var header: String
    /// The question's embedding, kept with the answer.
    var vector: [Float]?
    var write: Bool { request.write }
}

/// The answer cache in an exchange: looked up after the model's policies and before any
/// reservation (a hit costs nothing), answers replayed in the caller's dialect (streamed when
/// asked), and provider answers kept once complete.
extension LLMExchange {
    static func wallMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Answers from the cache, or calls `proceed` (a miss, a bypass, or nothing to look up).
    /// An embedding that fails or is late never fails the request: it goes on uncached.
    func consultCache(then proceed: @escaping () -> Void) {
        guard let cache, let json = parsed.json,
              let request = CacheRequest(body: json, endpoint: endpoint, headers: self.request.head.headers, consumer: self.request.consumer,
                                         model: requestedModel, config: cache.config)
        else { return proceed() }
        let started = NIODeadline.now()
        var plan = CachePlan(request: request, header: "miss")
        if request.write { assembler = stream ? CompletionAssembler() : nil }
        guard request.read else {
            plan.header = "bypass"
            cachePlan = plan
            cache.metrics.count(.bypass, since: nil)
            return proceed()
        }
        if cache.config.exactTTL != nil, let answer = cache.answers.lookup(exactKey: request.exactKey, now: Self.wallMillis()) {
            cache.metrics.count(.hitExact, since: started)
            return answerFromCache(answer, similarity: nil)
        }
        guard let semantic = cache.config.semantic, let question = request.question else {
            cachePlan = plan
            cache.metrics.count(.miss, since: started)
            return proceed()
        }
        EmbeddingCall.run(text: question, model: semantic.embeddingModel, parent: self, timeout: semantic.timeout) { [weak self] result in
            guard let self, !self.done else { return }
            switch result {
            case .success(let vector):
                plan.vector = vector
                if let (answer, similarity) = cache.answers.lookup(scope: request.scope, vector: vector, now: Self.wallMillis()) {
                    cache.metrics.count(.hitSemantic, since: started)
                    return self.answerFromCache(answer, similarity: similarity)
                }
            case .failure:
                cache.metrics.embeddingFailed()
            }
            self.cachePlan = plan
            cache.metrics.count(.miss, since: started)
            proceed()
        }
    }

    /// Replays a cached answer: the stored chat completion, in the caller's dialect, streamed
    /// as the provider's chunks would be when the caller asked for a stream.
    private func answerFromCache(_ answer: CachedAnswer, similarity: Float?) {
        guard let completion = try? JSONParser.parse(answer.body) else { return fail(ProblemDetails(status: .internalServerError)) }
        cacheHit = similarity == nil ? "exact" : "semantic"
        cacheSavedMicros = answer.costMicros
        genAI.responseModel = answer.servedModel
        var headers: [(String, String)] = [("x-triplegate-cache", similarity == nil ? "hit-exact" : "hit-semantic")]
        if let similarity { headers.append(("x-triplegate-cache-similarity", String(format: "%.3f", similarity))) }
        headers.append(("x-triplegate-model", answer.servedModel))
        guard stream else {
            let body = dialect == .openai ? completion : AnthropicIngress.message(fromChat: completion)
            return self.answer(status: .ok, json: body, headers: headers)
        }
        var encoder = makeEncoder()
        var out = client.allocator.buffer(capacity: answer.body.count * 2 + 256)
        for c in CompletionReplay.chunks(of: completion) { encoder.encode(c, into: &out) }
        encoder.finish(into: &out)
        done = true
        var h = HTTPHeaders()
        h.add(name: "content-type", value: "text/event-stream; charset=utf-8")
        h.add(name: "cache-control", value: "no-cache")
        h.add(name: "x-request-id", value: request.requestID)
        for (n, v) in headers { h.add(name: n, value: v) }
        finished(status: 200)
        client.writeResponseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: h))
        client.writeResponseBody(out)
        client.writeResponseEnd(nil)
    }

    /// Keeps a provider's complete answer (called when the call ends with 200).
    func keepForCache(cost: CallCost) {
        guard let cache, let plan = cachePlan, plan.write, let completion = cacheCompletion, let served else { return }
        guard CacheableAnswer.check(completion) else {
            cache.metrics.notKept()
            return
        }
        var body = client.allocator.buffer(capacity: 1024)
        completion.write(to: &body)
        let answer = CachedAnswer(body: Array(body.readableBytesView), provider: served.provider, servedModel: served.model,
                                  inputTokens: usage?.prompt ?? 0, outputTokens: usage?.output ?? 0, costMicros: cost.microUSD)
        if !cache.answers.store(answer, exactKey: plan.request.exactKey, scope: plan.request.scope, vector: plan.vector, now: Self.wallMillis()) {
            cache.metrics.notKept()
        }
    }
}
