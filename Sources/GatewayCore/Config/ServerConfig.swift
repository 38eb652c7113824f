/// The data-plane listener: where clients connect.
package struct ServerConfig: Sendable {
    /// `host:port` to bind. Default `0.0.0.0:8080`, the usual port for a data plane.
    package var listen: String = "0.0.0.0:8080"
    /// Event loops (threads). Default 0: one per core, so each core runs one loop with no hand-offs.
    package var eventLoops: Int = 0
    /// Serve HTTP/2 over cleartext (prior knowledge) next to HTTP/1.1. Default true: gRPC clients
    /// and load balancers speak h2c, and detecting its preface costs one peek per connection.
    package var h2c: Bool = true
    /// TLS certificate chain and key (PEM). When set, the listener speaks TLS and offers h2 and
    /// http/1.1 by ALPN. Default: none (cleartext).
    package var tls: TLSFiles?
    /// Request limits that protect the gateway from bad input.
    package var limits = ServerLimits()
    /// `%2F` and `%5C` in request paths: `reject` (400), `keep` them encoded, or `decode` them
    /// before matching. Default reject, as upstreams disagree on what they mean (Envoy's
    /// `path_with_escaped_slashes_action`).
    package var escapedSlashes: EscapedSlashes = .reject
    /// Time allowed for in-flight requests after SIGTERM before connections are closed.
    /// Default 30s, the same grace Kubernetes gives a pod by default.
    package var shutdownGrace: Duration = .seconds(30)

    package init() {}
}

/// A certificate chain and its private key, as PEM files.
package struct TLSFiles: Sendable, Equatable {
    package enum ClientAuth: String, Sendable, CaseIterable {
        /// No client certificate is asked for.
        case none
        /// Asked for; a connection without one goes on (an `mtls_auth` route refuses it), a bad
        /// one fails the handshake.
        case optional
        /// Every connection must present one that chains to `client_ca_file`.
        case required
    }

    package var certificate: String
    package var key: String
    /// Trust anchors for client certificates (PEM), needed unless `client_auth` is none.
    package var clientCAFile: String?
    package var clientAuth: ClientAuth = .none
}

/// Limits on what a client may send.
package struct ServerLimits: Sendable {
    /// Largest request head (request line + headers). Default 32KiB, Envoy's and nginx's
    /// order of magnitude; larger heads get 431.
    package var maxHeaderBytes: Int = 32 * 1024
    /// Most header fields in one request. Default 100, as Envoy; more get 431.
    package var maxHeaders: Int = 100
    /// Largest request body unless a route says otherwise. Default 0: unlimited, because bodies
    /// stream through and cost no memory; set it to refuse large uploads with 413.
    package var maxBodyBytes: Int = 0
    /// Time to receive a whole request head once a request starts (or a kept-alive connection
    /// waits). Default 10s: slow-header clients (slowloris) are cut off with 408.
    package var clientHeaderTimeout: Duration = .seconds(10)
    /// Longest gap between two reads of a request body. Default 60s, as nginx's client_body_timeout.
    package var clientBodyTimeout: Duration = .seconds(60)
    /// Longest idle time of a kept-alive client connection between requests (an HTTP/2
    /// connection with no open stream, too). Default 75s, as nginx.
    package var keepaliveTimeout: Duration = .seconds(75)
    /// Most open client connections on the listener; one more is closed on accept and counted
    /// (`triplegate_connections_refused_total`). Default 0: half the process's descriptor limit,
    /// leaving the rest for upstreams, stores and files.
    package var maxConnections: Int = 0

    package init() {}

    /// The smaller of this server-wide body limit and a gate's own, 0 meaning none on either.
    package func maxBodyBytes(gate: Int) -> Int {
        [maxBodyBytes, gate].filter { $0 > 0 }.min() ?? 0
    }
}

/// The admin listener: health, readiness and the effective config.
package struct AdminConfig: Sendable {
    /// `host:port` to bind. Default `127.0.0.1:9901`: loopback only, since it exposes config.
    package var listen: String = "127.0.0.1:9901"
    /// Serve the admin listener at all. Default true.
    package var enabled: Bool = true
    /// Host names (besides IP literals and `localhost`) a request may name in `Host`. Default
    /// none: a name is how a web page reaches a loopback listener by DNS rebinding.
    package var allowedHosts: [String] = []

    package init() {}
}

/// How the config file is watched for changes.
package struct ReloadConfig: Sendable {
    /// Poll the file for changes. Default true; SIGHUP reloads in any case.
    package var watch: Bool = true
    /// How often to look at the file. Default 1s: edits apply within a second, and a stat a
    /// second costs nothing.
    package var interval: Duration = .seconds(1)

    package init() {}
}
