import NIOCore
import NIOHTTP1

/// The phases of the policy chain, in the order they run (ARCHITECTURE.md, "The path of a request").
package enum PolicyPhase: Int, Sendable, Comparable, CaseIterable {
    case authenticate, authorize, limit, transform

    package static func < (a: PolicyPhase, b: PolicyPhase) -> Bool { a.rawValue < b.rawValue }
}

/// What a policy sees of a request, and what it may add for the rest of the chain and the
/// response. One per request, on the request's event loop.
package struct PolicyContext: Sendable {
    package let method: HTTPMethod
    package let headers: HTTPHeaders
    package let clientIP: String?
    /// The raw query string, if any.
    package let query: Substring?
    package let service: String
    package let route: String
    /// Monotonic nanoseconds, read once per request.
    package let now: Int64
    /// The request's event loop, for policies that wait on I/O.
    package let eventLoop: EventLoop?
    /// The verified TLS client certificate of the connection, if any.
    package var clientCertificate: ClientCertificate?
    /// Headers every response to this request carries (`RateLimit-*`, for example).
    package var responseHeaders: [(String, String)] = []
    /// Who is calling, once an authenticate policy has said.
    package var consumer: Consumer?
    /// The id of the API key that authenticated the call (`key_auth`), for per-key budgets and
    /// the ledger; never the key itself.
    package var keyID: String?
    /// Request headers to remove before the request goes upstream (credentials).
    package var removeRequestHeaders: [String] = []
    /// Query parameters to remove before the request goes upstream (credentials), by name.
    package var removeQueryParameters: [String] = []
    /// The limiter's word for the access log: `allowed` or `refused`.
    package var limitOutcome: String?
    /// The resource the gate named once it read the body (the MCP gate's tool, `server.tool`),
    /// for limits counted per resource (`RateLimitConfig.KeyPart.resource`).
    package var resource: String?

    package init(method: HTTPMethod, headers: HTTPHeaders, clientIP: String?, query: Substring? = nil, service: String, route: String, now: Int64,
                eventLoop: EventLoop? = nil, clientCertificate: ClientCertificate? = nil) {
        self.eventLoop = eventLoop
        self.clientCertificate = clientCertificate
        self.method = method
        self.headers = headers
        self.clientIP = clientIP
        self.query = query
        self.service = service
        self.route = route
        self.now = now
    }
}

/// A policy's verdict on a request.
package enum PolicyVerdict: Sendable {
    case proceed
    /// Answer with this problem; the request goes no further.
    case reject(ProblemDetails)
    /// The policy waits on I/O (Redis, a key server). When the future succeeds, its update is
    /// applied to the context on the request's event loop and its verdict taken; a failed future
    /// rejects the request with 500.
    case suspend(EventLoopFuture<PolicyResumption>)
}

/// What a suspended policy decided once its I/O finished.
package struct PolicyResumption: Sendable {
    package var verdict: PolicyVerdict
    package var update: @Sendable (inout PolicyContext) -> Void

    package init(verdict: PolicyVerdict, update: @escaping @Sendable (inout PolicyContext) -> Void = { _ in }) {
        self.verdict = verdict
        self.update = update
    }
}

extension PolicyResumption {
    /// The resumption of an authenticator that decided after I/O: `decide` runs on a scratch
    /// context, and the consumer it set and the headers it marked for removal are replayed onto
    /// the request's context.
    package static func authenticated(_ decide: (inout PolicyContext) -> PolicyVerdict) -> PolicyResumption {
        var scratch = PolicyContext(method: .GET, headers: [:], clientIP: nil, service: "", route: "", now: 0)
        let verdict = decide(&scratch)
        let consumer = scratch.consumer, remove = scratch.removeRequestHeaders
        return PolicyResumption(verdict: verdict) { ctx in
            if let consumer { ctx.consumer = consumer }
            ctx.removeRequestHeaders += remove
        }
    }
}

/// How a chain run ended: at once, or after some policy's I/O.
package enum PolicyChainOutcome {
    case done(PolicyVerdict, PolicyContext)
    case pending(EventLoopFuture<(PolicyVerdict, PolicyContext)>)
}

/// One cross-cutting behaviour (auth, ACL, limit, transform): a validated config, a phase and a
/// function of the request context. The same policy type attaches to a service, a route and,
/// later, a model or an MCP tool.
package protocol RequestPolicy: Sendable {
    /// The config key (`rate_limit`), for ordering ties and `check --explain`.
    var name: String { get }
    var phase: PolicyPhase { get }
    /// Within a phase, higher runs first (as Kong's plugin priorities).
    var priority: Int { get }
    func apply(_ context: inout PolicyContext) -> PolicyVerdict
}

/// The policies of one route, sorted once when the config snapshot is built: by phase, then
/// priority (higher first), then name, then config order (service policies before route ones).
package struct PolicyChain: Sendable {
    package let policies: [any RequestPolicy]

    package init(_ policies: [any RequestPolicy]) {
        self.policies = policies.enumerated().sorted { x, y in
            let a = x.element, b = y.element
            if a.phase != b.phase { return a.phase < b.phase }
            if a.priority != b.priority { return a.priority > b.priority }
            if a.name != b.name { return a.name < b.name }
            return x.offset < y.offset
        }.map(\.element)
    }

    package var isEmpty: Bool { policies.isEmpty }

    /// Whether the chain's authorize policies (`acl`) admit `context`, without running anything
    /// else (no limit is charged). For listings such as `GET /v1/models`; a policy that would
    /// wait on I/O counts as admitting.
    package func authorizes(_ context: PolicyContext) -> Bool {
        var context = context
        for p in policies where p.phase == .authorize {
            if case .reject = p.apply(&context) { return false }
        }
        return true
    }

    /// Runs the policies in order until one rejects. Synchronous policies never leave the
    /// calling stack; only a suspending one makes the outcome `.pending`.
    /// The context is taken, not copied: it holds a dozen references (the headers, strings, the
    /// consumer), and each copy retains and releases them all on every request.
    package func run(_ context: consuming PolicyContext, on eventLoop: EventLoop) -> PolicyChainOutcome {
        run(from: 0, context, on: eventLoop)
    }

    private func run(from start: Int, _ context: consuming PolicyContext, on eventLoop: EventLoop) -> PolicyChainOutcome {
        var context = context
        var i = start
        while i < policies.count {
            switch policies[i].apply(&context) {
            case .proceed:
                i += 1
            case .reject(let problem):
                return .done(.reject(problem), context)
            case .suspend(let future):
                let next = i + 1
                let paused = context
                let chain = self
                return .pending(future.hop(to: eventLoop).flatMap { resumption in
                    var resumed = paused
                    resumption.update(&resumed)
                    switch resumption.verdict {
                    case .proceed:
                        switch chain.run(from: next, resumed, on: eventLoop) {
                        case .done(let verdict, let final): return eventLoop.makeSucceededFuture((verdict, final))
                        case .pending(let later): return later
                        }
                    case .reject(let problem):
                        return eventLoop.makeSucceededFuture((.reject(problem), resumed))
                    case .suspend:
                        // A resumption is a decision; suspending again is a policy bug.
                        return eventLoop.makeSucceededFuture((.reject(ProblemDetails(status: .internalServerError)), resumed))
                    }
                }.flatMapErrorThrowing { _ in (.reject(ProblemDetails(status: .internalServerError, title: "A policy failed")), paused) })
            }
        }
        return .done(.proceed, context)
    }

}
