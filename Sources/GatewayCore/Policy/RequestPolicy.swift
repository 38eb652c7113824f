import NIOHTTP1

/// The phases of the policy chain, in the order they run (DESIGN.md, "The path of a request").
public enum PolicyPhase: Int, Sendable, Comparable, CaseIterable {
    case authenticate, authorize, limit, transform

    public static func < (a: PolicyPhase, b: PolicyPhase) -> Bool { a.rawValue < b.rawValue }
}

/// What a policy sees of a request, and what it may add for the rest of the chain and the
/// response. One per request, on the request's event loop.
public struct PolicyContext {
    public let method: HTTPMethod
    public let headers: HTTPHeaders
    public let clientIP: String?
    /// The raw query string, if any.
    public let query: Substring?
    public let service: String
    public let route: String
    /// Monotonic nanoseconds, read once per request.
    public let now: Int64
    /// Headers every response to this request carries (`RateLimit-*`, for example).
    public var responseHeaders: [(String, String)] = []
    /// Who is calling, once an authenticate policy has said.
    public var consumer: Consumer?
    /// Request headers to remove before the request goes upstream (credentials).
    public var removeRequestHeaders: [String] = []
    /// The limiter's word for the access log: `allowed` or `refused`.
    public var limitOutcome: String?

    public init(method: HTTPMethod, headers: HTTPHeaders, clientIP: String?, query: Substring? = nil, service: String, route: String, now: Int64) {
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
public enum PolicyVerdict: Sendable {
    case proceed
    /// Answer with this problem; the request goes no further.
    case reject(ProblemDetails)
}

/// One cross-cutting behaviour (auth, ACL, limit, transform): a validated config, a phase and a
/// function of the request context. The same policy type attaches to a service, a route and,
/// later, a model or an MCP tool.
public protocol RequestPolicy: Sendable {
    /// The config key (`rate_limit`), for ordering ties and `check --explain`.
    var name: String { get }
    var phase: PolicyPhase { get }
    /// Within a phase, higher runs first (as Kong's plugin priorities).
    var priority: Int { get }
    func apply(_ context: inout PolicyContext) -> PolicyVerdict
}

/// The policies of one route, sorted once when the config snapshot is built: by phase, then
/// priority (higher first), then name, then config order (service policies before route ones).
public struct PolicyChain: Sendable {
    public let policies: [any RequestPolicy]

    public init(_ policies: [any RequestPolicy]) {
        self.policies = policies.enumerated().sorted { x, y in
            let a = x.element, b = y.element
            if a.phase != b.phase { return a.phase < b.phase }
            if a.priority != b.priority { return a.priority > b.priority }
            if a.name != b.name { return a.name < b.name }
            return x.offset < y.offset
        }.map(\.element)
    }

    public var isEmpty: Bool { policies.isEmpty }

    /// Runs the policies in order until one rejects.
    public func run(_ context: inout PolicyContext) -> PolicyVerdict {
        for policy in policies {
            if case .reject(let problem) = policy.apply(&context) { return .reject(problem) }
        }
        return .proceed
    }
}
