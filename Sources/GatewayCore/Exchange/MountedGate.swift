import NIOCore
import NIOHTTP1

/// A gate served on the data-plane listener beside the API gate's routes, under path prefixes
/// of its own (`/v1/` for the AI gate, `/mcp` for the MCP gate). The listener and its client
/// handler stay the API gate's: a mount gets the same limits, policy chain, access log,
/// metrics and spans, and answers through a `RequestExchange`.
package protocol MountableGate: Sendable {
    /// The gate's state on one event loop.
    func mount(on loop: LoopContext) -> MountedGate
    /// Compiles `config` into this gate's part of the next snapshot, off the event loops.
    /// Throws what would stop `config` from applying, and changes nothing the gate serves: a
    /// reload refused by any gate leaves every gate as it was.
    func prepare(_ config: GatewayConfig) throws -> any PreparedGate
}

/// One gate's part of a config that every gate accepted, ready to swap in.
package protocol PreparedGate: Sendable {
    /// Makes the part the gate's current one (what a loop mounted later starts with, and state
    /// shared across loops, such as upstream servers). Called once, after every gate prepared
    /// and before any loop swaps.
    func publish()
    /// Swaps the part in on `loop`. Called on that loop, in the same step as every other
    /// gate's part and the API gate's routes, so no request sees half of a reload.
    func install(on loop: LoopContext)
}

/// A mounted gate on one event loop. Called only on that loop.
package protocol MountedGate: AnyObject {
    /// The route for this request if the gate serves its path, nil to leave it to the API gate.
    func claim(_ head: HTTPRequestHead, path: Substring) -> MountedRoute?
}

/// A mounted gate's answer to "is this mine": what the client handler needs before the body.
/// A class, so that a gate can keep one per endpoint and hand it out per request without
/// copying (and retaining) each of its members.
package final class MountedRoute {
    /// For the access log, metrics and spans (`llm`, `mcp`).
    package let service: String
    package let route: String
    /// Runs before the exchange starts (authentication, limits).
    package let chain: PolicyChain
    package let metrics: RouteMetrics
    /// How errors of this route are written, policy refusals included.
    package let dialect: (any ErrorDialect)?
    /// Bodies larger than this are refused with 413 (0: no limit).
    package let maxBodyBytes: Int
    /// Makes the exchange once the chain let the request through.
    package let start: (MountedRequest, ClientResponder) -> RequestExchange

    package init(service: String, route: String, chain: PolicyChain, metrics: RouteMetrics, dialect: (any ErrorDialect)?, maxBodyBytes: Int,
                start: @escaping (MountedRequest, ClientResponder) -> RequestExchange) {
        self.service = service
        self.route = route
        self.chain = chain
        self.metrics = metrics
        self.dialect = dialect
        self.maxBodyBytes = maxBodyBytes
        self.start = start
    }
}

/// A request a mounted gate takes, after its policy chain.
///
/// A class: an exchange keeps it and reads it for the whole call, and as a struct of a dozen
/// references (the head, strings, the consumer, the policy context) every read of it through the
/// exchange copied and released them all: about 80 reference-count operations per AI call.
package final class MountedRequest {
    /// The head with the credentials the policies consumed removed.
    package let head: HTTPRequestHead
    package let path: Substring
    package let query: Substring?
    package let requestID: String
    /// Who is calling, if a policy said.
    package let consumer: Consumer?
    package let clientIP: String?
    /// The chain's final context (for per-resource policies that run later).
    package let policyContext: PolicyContext?

    package init(head: HTTPRequestHead, path: Substring, query: Substring?, requestID: String, consumer: Consumer?, clientIP: String?,
                policyContext: PolicyContext?) {
        self.head = head
        self.path = path
        self.query = query
        self.requestID = requestID
        self.consumer = consumer
        self.clientIP = clientIP
        self.policyContext = policyContext
    }
}
