/// Where a service's requests go, and how.
package struct UpstreamConfig: Sendable {
    /// The servers, each with a weight. `builtin:echo` is a target served inside the gateway.
    package var targets: [TargetConfig] = []
    /// How a target is picked. Default `weighted` (smooth weighted round robin, as nginx).
    package var balance: BalanceAlgorithm = .weighted
    /// What `balance: hash` hashes; requests without it fall back to weighted round robin.
    package var hashOn: HashKey?
    /// Upstream connection pool per target and event loop.
    package var pool = PoolConfig()
    /// Time limits towards the upstream.
    package var timeouts = UpstreamTimeouts()
    /// Retry policy.
    package var retries = RetryConfig()
    /// The protocol spoken to the targets. Default `http1`. `h2` speaks HTTP/2: with prior
    /// knowledge (h2c) to `http://` targets, negotiated by ALPN to `https://` ones; requests
    /// then share one multiplexed connection per target and event loop.
    package var `protocol`: UpstreamProtocol = .http1
    /// TLS towards `https://` targets.
    package var tls = UpstreamTLS()

    package init() {}
}

/// The HTTP version spoken to upstream targets.
package enum UpstreamProtocol: String, Sendable, CaseIterable, Hashable {
    case http1
    case h2
}

/// How `https://` targets are verified.
package struct UpstreamTLS: Sendable, Hashable {
    /// Verify the target's certificate chain and name. Default true; turning it off is for
    /// tests and labs only.
    package var verify: Bool = true
    /// PEM file of the CA(s) to trust instead of the system's. Default: the system trust store.
    package var caFile: String?
    /// The name to send by SNI and to verify; default the target's host.
    package var serverName: String?

    package init() {}
}

/// One upstream server.
package struct TargetConfig: Sendable, Equatable {
    /// `http://host:port[/base]`, `https://...` or `builtin:echo`.
    package var url: String
    /// Share of traffic relative to the other targets. Default 100; 0 sends nothing (drain).
    package var weight: Int = 100

    package init(url: String, weight: Int = 100) {
        self.url = url
        self.weight = weight
    }
}

/// Load-balancing algorithms.
package enum BalanceAlgorithm: String, Sendable, CaseIterable {
    /// Smooth weighted round robin: exact shares, evenly interleaved.
    case weighted
    /// The target with the fewest requests in flight relative to its weight.
    case leastConnections = "least_connections"
    /// Consistent hashing on `hash_on`, so one key keeps its target while targets come and go.
    case hash
}

/// The request attribute that `balance: hash` uses.
package enum HashKey: Sendable, Equatable {
    case header(String)
    case cookie(String)
    case clientIP
}

/// Pool of kept-alive connections to each target.
package struct PoolConfig: Sendable {
    /// Most connections to one target from one event loop. Default 256: enough for a loop's
    /// concurrency without letting one slow target exhaust file descriptors.
    package var maxConnections: Int = 256
    /// How long an idle kept-alive connection is kept. Default 60s; upstreams usually close
    /// theirs after 60–75s, and a connection we close first is never raced.
    package var idleTimeout: Duration = .seconds(60)

    package init() {}
}

/// Time limits towards an upstream.
package struct UpstreamTimeouts: Sendable {
    /// To establish a connection. Default 5s.
    package var connect: Duration = .seconds(5)
    /// From sending a request to the response head, per attempt. Default 30s.
    package var perTry: Duration = .seconds(30)
    /// From the first attempt to the response head, retries included. Default 60s.
    package var total: Duration = .seconds(60)
    /// Longest gap between two reads of a response body once it streams. Default 300s: SSE and
    /// LLM streams pause between events; a stream that says nothing for 5 minutes is dead.
    package var read: Duration = .seconds(300)

    package init() {}
}

/// When a failed attempt is tried again.
package struct RetryConfig: Sendable {
    /// Extra attempts after the first. Default 2.
    package var attempts: Int = 2
    /// Which failures retry: `connect` (never sent, so any method), `timeout`, and statuses
    /// (idempotent methods only). Default connect, 502, 503, 504.
    package var on: RetryConditions = .defaults
    /// First backoff; each further retry doubles it, with full jitter. Default 25ms.
    package var backoffBase: Duration = .milliseconds(25)
    /// Longest backoff. Default 250ms.
    package var backoffMax: Duration = .milliseconds(250)
    /// Retries may be at most this share of requests (Envoy/Finagle retry budget). Default 0.2,
    /// so an outage cannot multiply load by more than 20%.
    package var budgetRatio: Double = 0.2
    /// Retries always allowed per second per event loop, so low traffic can still retry. Default 10.
    package var budgetMinPerSecond: Int = 10
    /// Largest request body kept for replay on a retry. Default 64KiB; a larger body is
    /// streamed through and then only connection failures (nothing sent) are retried.
    package var bufferBytes: Int = 64 * 1024

    package init() {}
}

/// The failures a retry policy reacts to.
package struct RetryConditions: Sendable, Equatable {
    package var connect: Bool
    package var timeout: Bool
    package var statuses: Set<Int>

    package static let defaults = RetryConditions(connect: true, timeout: false, statuses: [502, 503, 504])
}
