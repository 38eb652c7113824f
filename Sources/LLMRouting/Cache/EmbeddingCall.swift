import GatewayCore
import NIOCore
import NIOHTTP1

/// Embeds a question with the configured embedding model, through the gate's own routing (its
/// deployments, retries and failover; its ledger row, billed to the caller), with a time
/// limit. The call runs as an internal exchange whose "client" keeps the answer.
final class EmbeddingCall: ClientResponder {
    let allocator: ByteBufferAllocator
    let eventLoop: EventLoop
    let loopContext: LoopContext
    var isWritable: Bool { true }
    private var status: HTTPResponseStatus = .ok
    private var body = ByteBuffer()
    private var exchange: LLMExchange?
    private var timer: Scheduled<Void>?
    private var finish: ((Result<[Float], Failure>) -> Void)?
    /// The exchange holds this object unowned: it keeps itself alive until the call is over.
    private var keepAlive: EmbeddingCall?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private init(parent: ClientResponder) {
        allocator = parent.allocator
        eventLoop = parent.eventLoop
        loopContext = parent.loopContext
    }

    /// Calls `done` once, on the parent's event loop: with the vector, or with why not.
    static func run(text: String, model: String, parent: LLMExchange, timeout: Duration,
                    done: @escaping (Result<[Float], Failure>) -> Void) {
        let call = EmbeddingCall(parent: parent.client)
        call.finish = done
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/embeddings")
        let request = MountedRequest(head: head, path: "/v1/embeddings", query: nil, requestID: parent.request.requestID + "-embedding",
                                     consumer: parent.request.consumer, clientIP: parent.request.clientIP, policyContext: parent.request.policyContext)
        let exchange = LLMExchange(client: call, snapshot: parent.snapshot, routing: parent.routing, endpoint: .embeddings, request: request,
                                   ledger: parent.ledger, spend: parent.spend, cache: nil, internalCall: true)
        call.exchange = exchange
        call.keepAlive = call
        call.timer = call.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))) {
            call.exchange?.clientClosed()
            call.complete(.failure(Failure(description: "the embedding call took longer than its timeout")))
        }
        let json = JSONValue.obj([("model", .string(model)), ("input", .string(text))])
        exchange.requestBody(json.buffer(call.allocator))
        exchange.requestEnd(nil)
    }

    private func complete(_ result: Result<[Float], Failure>) {
        guard let finish else { return }
        self.finish = nil
        timer?.cancel()
        finish(result)
        // Let go on the next turn of the loop: the exchange may still be on the stack.
        let held = (keepAlive, exchange)
        keepAlive = nil
        exchange = nil
        eventLoop.assumeIsolated().execute { _ = held }
    }

    func writeResponseHead(_ head: consuming HTTPResponseHead) { status = head.status }
    func writeResponseBody(_ part: ByteBuffer) {
        var part = part
        body.writeBuffer(&part)
    }
    func flush() {}
    func writeResponseEnd(_ trailers: HTTPHeaders?) {
        guard status == .ok, let json = try? JSONParser.parse(body.readableBytesView),
              let numbers = json["data"]?.arrayValue?.first?["embedding"]?.arrayValue, !numbers.isEmpty else {
            return complete(.failure(Failure(description: "the embedding model answered \(status.code) without a vector")))
        }
        let vector = numbers.compactMap { $0.doubleValue.map(Float.init) }
        guard vector.count == numbers.count else { return complete(.failure(Failure(description: "the embedding was not a list of numbers"))) }
        complete(.success(vector))
    }
    func abort() { complete(.failure(Failure(description: "the embedding call was cut"))) }
    func respond(_ problem: ProblemDetails) { complete(.failure(Failure(description: "the embedding call failed: \(problem.status.code) \(problem.title)"))) }
    func pauseClientReads() {}
    func resumeClientReads() {}
    func noteUpstream(address: SocketAddress?, latencyNanos: Int64) {}
    func annotate(_ annotation: some RequestAnnotation) {}
}
