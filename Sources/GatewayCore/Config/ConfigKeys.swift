/// The core's keys of the config file, table by table as `docs/configuration.md` shows them.
/// Each gate declares its own section's keys (`ConfigSection.keys`).
package enum ConfigKeys {
    package static let tables: [ConfigKeyTable] = [server, admin, reload, consumers, auth, telemetry, services, upstream, routes, policies]

    static let server = ConfigKeyTable("server", [
        ConfigKey("server.listen", "host:port", default: "0.0.0.0:8080", "address to bind"),
        ConfigKey("server.event_loops", "integer 0-256", default: "0", "event loop threads (0: one per core); each owns its connections, upstream pools and balancer state, so requests take no locks"),
        ConfigKey("server.h2c", "bool", default: "true", "serve HTTP/2 with prior knowledge next to HTTP/1.1 on the cleartext port (detected from the connection preface)"),
        ConfigKey("server.tls.certificate", "file", required: true, "PEM certificate chain; with `tls`, the listener speaks TLS and offers `h2` and `http/1.1` by ALPN"),
        ConfigKey("server.tls.key", "file", required: true, "PEM private key (its path is shown as `[redacted]` too)"),
        ConfigKey("server.tls.client_ca_file", "file", "PEM trust anchors for client certificates (for `mtls_auth`)"),
        ConfigKey("server.tls.client_auth", ConfigKey.oneOf(TLSFiles.ClientAuth.self), "`optional` (the default with a CA file, else `none`): a certificate is asked for and, if sent, must chain to the CA; `required`: connections without one fail the handshake"),
        ConfigKey("server.limits.max_header_bytes", "size", default: "32KiB", "larger request heads get 431"),
        ConfigKey("server.limits.max_headers", "integer 1-10000", default: "100", "more header fields get 431"),
        ConfigKey("server.limits.max_body_bytes", "size", default: "0", "larger bodies get 413 (0: unlimited; routes may set their own)"),
        ConfigKey("server.limits.client_header_timeout", "duration", default: "10s", "a new connection must send a whole request head in this time, or gets 408"),
        ConfigKey("server.limits.client_body_timeout", "duration", default: "60s", "longest gap between two reads of a request body (408)"),
        ConfigKey("server.limits.keepalive_timeout", "duration", default: "75s", "idle kept-alive client connections (and HTTP/2 connections with no open stream) are closed after this"),
        ConfigKey("server.limits.max_connections", "integer", default: "0", "more open client connections are closed on accept (0: half the descriptor limit; `triplegate_connections_refused_total`)"),
        ConfigKey("server.escaped_slashes", ConfigKey.oneOf(EscapedSlashes.self), default: "reject", "`%2F`/`%5C` in a path: `reject` (400), `keep` (encoded, not a separator), `decode` (before matching)"),
        ConfigKey("server.shutdown_grace", "duration", default: "30s", "time in-flight requests get after SIGTERM"),
    ])

    static let admin = ConfigKeyTable("admin", [
        ConfigKey("admin.listen", "host:port", default: "127.0.0.1:9901", "loopback only by default: it exposes the config"),
        ConfigKey("admin.enabled", "bool", default: "true", "serve the admin listener"),
        ConfigKey("admin.allowed_hosts", "list of host names", default: "[]", "host names a request may give in `Host` besides IP literals and `localhost`; others get 403 (DNS rebinding), as do requests with a cross-site `Origin`"),
    ])

    static let reload = ConfigKeyTable("reload", [
        ConfigKey("reload.watch", "bool", default: "true", "poll the file for changes (a rename, as editors and config managers do, counts)"),
        ConfigKey("reload.interval", "duration, at least 100ms", default: "1s", "how often to look"),
    ])

    static let consumers = ConfigKeyTable("consumers", prefix: "", [
        ConfigKey("consumers[].name", "string", required: true, "unique; API keys belong to a consumer by name"),
        ConfigKey("consumers[].team", "string", "the chargeback unit; `rate_limit` can count by it"),
        ConfigKey("consumers[].groups", "list of strings", default: "[]", "for `acl`"),
        ConfigKey("consumers[].tags", "list of strings", default: "[]", "labels for reports"),
        ConfigKey("store", "sqlite:PATH or postgres://...", default: "sqlite:triplegate.db", secret: true,
                  "where API keys, the LLM ledger and the MCP audit are kept: `sqlite:PATH` (embedded, one file in WAL mode, for one host) or `postgres://user[:password]@host[:port][/database][?sslmode=...]` (shared by replicas; `sslmode` `disable`, `prefer` (default), `require` or `verify-full`); opened only when something needs it, tables created on first use; one that cannot be reached stops `serve` at start-up with the reason"),
        ConfigKey("redis", "redis://... or rediss://...", secret: true,
                  "`redis://[user[:password]@]host[:port][/db]` (`rediss://` for TLS) for counters shared by replicas; `AUTH` and `SELECT` are sent on every connection"),
    ])

    static let auth = ConfigKeyTable("auth", [
        ConfigKey("auth.jwt.issuer", "string or list", "accepted `iss` values; none: any issuer"),
        ConfigKey("auth.jwt.audiences", "list of strings", "a token passes when any of its `aud` values is listed; none: any audience"),
        ConfigKey("auth.jwt.jwks_url", "URL", "where the signing keys are fetched (JWKS); with or instead of `keys`"),
        ConfigKey("auth.jwt.jwks_refresh", "duration", default: "10m", "the JWKS is fetched at first use, then again in the background when older than this"),
        ConfigKey("auth.jwt.jwks_min_refresh", "duration", default: "30s", "a token naming an unknown `kid` triggers one refresh (requests share it), at most once per this; a refresh that fails keeps the keys already known"),
        ConfigKey("auth.jwt.jwks_ca_file", "file", "trust anchors for an https JWKS URL (default: the system's)"),
        ConfigKey("auth.jwt.keys[].kid", "string", "the key id tokens name in their header"),
        ConfigKey("auth.jwt.keys[].algorithm", "JWS algorithm", "HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA; a key verifies only the algorithms of its type"),
        ConfigKey("auth.jwt.keys[].secret", "string", secret: true, "an HMAC key (HS*), at least as long as the hash"),
        ConfigKey("auth.jwt.keys[].public_key", "PEM text", "an RSA or EC public key (RS*, PS*, ES*)"),
        ConfigKey("auth.jwt.keys[].public_key_file", "file", "the same, from a file"),
        ConfigKey("auth.jwt.keys[].jwk", "JSON text", secret: true, "a JWK of any type (EdDSA included); may hold private parts, so it is never shown"),
        ConfigKey("auth.jwt.claims_to_verify", "list of: exp, nbf", default: "[]", "claims that must be present (they are checked whenever present)"),
        ConfigKey("auth.jwt.maximum_expiration", "integer (seconds)", "refuse tokens whose `exp` is further ahead than this"),
        ConfigKey("auth.jwt.clock_skew", "duration", default: "0s", "leeway for `exp` and `nbf`"),
        ConfigKey("auth.jwt.consumer_claim", "string", default: "sub", "the claim that names the consumer"),
        ConfigKey("auth.jwt.team_claim", "string", "sets the team of consumers not declared under `consumers:`"),
        ConfigKey("auth.jwt.groups_claim", "string", "a claim whose values join the consumer's groups (for `acl`)"),
        ConfigKey("auth.jwt.require_known_consumer", "bool", default: "false", "refuse tokens whose consumer is not declared; by default the claims describe the caller"),
        ConfigKey("auth.introspection.url", "URL", required: true, "the RFC 7662 endpoint; called with the client credentials in HTTP Basic"),
        ConfigKey("auth.introspection.client_id", "string", required: true, "the gateway's client id"),
        ConfigKey("auth.introspection.client_secret", "string", required: true, secret: true, "the gateway's client secret"),
        ConfigKey("auth.introspection.cache_ttl", "duration", default: "60s", "answers are kept until the earlier of the token's `exp` and this (tokens kept only as SHA-256 digests)"),
        ConfigKey("auth.introspection.negative_ttl", "duration", default: "5s", "how long \"inactive\" is remembered"),
        ConfigKey("auth.introspection.timeout", "duration", default: "5s", "per call"),
        ConfigKey("auth.introspection.ca_file", "file", "trust anchors for an https endpoint (default: the system's)"),
        ConfigKey("auth.introspection.consumer_claim", "string", "the answer's field that names the consumer (default: `username`, then `sub`, then `client_id`)"),
        ConfigKey("auth.introspection.groups_claim", "string", "a field (string or list) whose values join the consumer's groups"),
    ])

    static let telemetry = ConfigKeyTable("telemetry", [
        ConfigKey("telemetry.access_log.enabled", "bool", default: "true", "one JSON line per request"),
        ConfigKey("telemetry.access_log.path", "stdout or a file", default: "stdout", "where lines go (a file is appended to)"),
        ConfigKey("telemetry.access_log.fields", "list of field names", "the fields written, in this order (default: all): `time`, `request_id`, `consumer`, `team`, `service`, `route`, `method`, `path` (without the query string), `status`, `bytes`, `upstream`, `upstream_ms`, `total_ms`, `limit` (`allowed`/`refused`), and the gates' (`gen_ai`)"),
        ConfigKey("telemetry.traces.endpoint", "URL", default: "http://127.0.0.1:4318", "the OTLP/HTTP collector; `/v1/traces` is added (no `traces:`: no spans)"),
        ConfigKey("telemetry.traces.protocol", ConfigKey.oneOf(TracesConfig.ExportProtocol.self), default: "http/protobuf", "the OTLP encoding"),
        ConfigKey("telemetry.traces.service_name", "string", default: "triplegate", "the `service.name` resource attribute"),
        ConfigKey("telemetry.traces.sample_ratio", "number 0-1", default: "1", "share of new traces recorded; an incoming `traceparent`'s sampled flag is followed"),
        ConfigKey("telemetry.traces.batch_delay", "duration", default: "1s", "spans are sent in batches this often"),
    ])

    static let services = ConfigKeyTable("services[]", [
        ConfigKey("services[].name", "string", required: true, "unique; used in logs and metrics"),
        ConfigKey("services[].upstream", "mapping or URL", required: true, "a mapping (below), or a single URL as shorthand: `upstream: builtin:echo`"),
        ConfigKey("services[].routes", "list", required: true, "at least one (below)"),
        ConfigKey("services[].policies", "list of policies", "for every route of the service (see Policies)"),
    ])

    static let upstream = ConfigKeyTable("services[].upstream", [
        ConfigKey("services[].upstream.targets[].url", "URL", required: true, "`http://host:port[/base]`, `https://...` or `builtin:echo`; a base path is put before the forwarded path"),
        ConfigKey("services[].upstream.targets[].weight", "integer", default: "100", "share of traffic; `0` sends nothing (drain)"),
        ConfigKey("services[].upstream.protocol", ConfigKey.oneOf(UpstreamProtocol.self), default: "http1", "`h2` speaks HTTP/2 to the targets: with prior knowledge (h2c) to `http://` targets, by ALPN to `https://` ones; all requests to a target then share one multiplexed connection per event loop"),
        ConfigKey("services[].upstream.tls.verify", "bool", default: "true", "verify `https://` targets' certificates and names (turn off only in labs)"),
        ConfigKey("services[].upstream.tls.ca_file", "file", "PEM file of the CAs to trust for `https://` targets (default: the system's)"),
        ConfigKey("services[].upstream.tls.server_name", "string", "name sent by SNI and verified (default: the target's host)"),
        ConfigKey("services[].upstream.balance", ConfigKey.oneOf(BalanceAlgorithm.self), default: "weighted", "`weighted` (smooth weighted round robin, as nginx), `least_connections` (fewest in flight relative to weight), `hash` (consistent hashing, Ketama-style ring)"),
        ConfigKey("services[].upstream.hash_on.header", "header name", "with `balance: hash`: hash on this header (exactly one of `header`, `cookie`, `client_ip`; requests without it fall back to `weighted`)"),
        ConfigKey("services[].upstream.hash_on.cookie", "cookie name", "hash on this cookie"),
        ConfigKey("services[].upstream.hash_on.client_ip", "bool", "hash on the client's address"),
        ConfigKey("services[].upstream.pool.max_connections", "integer", default: "256", "kept-alive HTTP/1.1 connections per target per event loop; requests beyond wait for one"),
        ConfigKey("services[].upstream.pool.idle_timeout", "duration", default: "60s", "idle upstream connections are closed after this"),
        ConfigKey("services[].upstream.timeouts.connect", "duration", default: "5s", "to open a connection"),
        ConfigKey("services[].upstream.timeouts.per_try", "duration", default: "30s", "from an attempt's start to the response head"),
        ConfigKey("services[].upstream.timeouts.total", "duration", default: "60s", "from the first attempt to the response head, retries included"),
        ConfigKey("services[].upstream.timeouts.read", "duration", default: "300s", "longest silence while a response body streams (SSE and LLM streams pause between events)"),
        ConfigKey("services[].upstream.retries.attempts", "integer", default: "2", "extra attempts after the first"),
        ConfigKey("services[].upstream.retries.on", "list", default: "[connect, 502, 503, 504]", "`connect` (the connection was never made: retried for any method), `timeout`, `408`, `429`, `5xx` statuses (idempotent methods only)"),
        ConfigKey("services[].upstream.retries.backoff.base", "duration", default: "25ms", "exponential backoff with full jitter: the first delay"),
        ConfigKey("services[].upstream.retries.backoff.max", "duration", default: "250ms", "the longest delay"),
        ConfigKey("services[].upstream.retries.budget.ratio", "number", default: "0.2", "retries may be at most this share of requests (per service, per event loop)"),
        ConfigKey("services[].upstream.retries.budget.min_per_second", "integer", default: "10", "retries always allowed per second, so quiet services still retry"),
        ConfigKey("services[].upstream.retries.buffer_bytes", "size", default: "64KiB", "request body kept for a replay; a larger body streams through and is then only retried if nothing was sent"),
    ])

    static let routes = ConfigKeyTable("services[].routes[]", [
        ConfigKey("services[].routes[].name", "string", "unique (default `<service>.<index>`)"),
        ConfigKey("services[].routes[].paths", "list of paths", default: "[/]", "`/api` prefix (on segment boundaries), `=/api/health` exact, `~^/users/\\d+$` regex"),
        ConfigKey("services[].routes[].methods", "list of methods", "upper-case methods (default: any)"),
        ConfigKey("services[].routes[].hosts", "list of host names", "`api.example.com` or `*.example.com` (any subdomain, not the apex); port and case ignored (default: any)"),
        ConfigKey("services[].routes[].headers", "mapping", "`{ Name: [v1, v2] }`: the request must carry one of the values (case-insensitive) or match a value written `~regex`"),
        ConfigKey("services[].routes[].query", "mapping", "as `headers`, for query parameters (case-sensitive values)"),
        ConfigKey("services[].routes[].strip_path", "bool", default: "false", "remove the matched prefix before forwarding"),
        ConfigKey("services[].routes[].rewrite_prefix", "path", "replace the matched prefix (`/v1/x` → `/internal/v1/x`); not with `strip_path`"),
        ConfigKey("services[].routes[].preserve_host", "bool", default: "false", "send the client's `Host` upstream instead of the target's"),
        ConfigKey("services[].routes[].max_body_bytes", "size", "larger bodies get 413 (default: the server's)"),
        ConfigKey("services[].routes[].policies", "list of policies", "for this route, after the service's"),
    ])

    static let policies = ConfigKeyTable("policies[]", [
        ConfigKey("policies[].rate_limit.second", "integer", "requests per second (at least one window of second, minute, hour, day; every one must allow)"),
        ConfigKey("policies[].rate_limit.minute", "integer", "requests per minute"),
        ConfigKey("policies[].rate_limit.hour", "integer", "requests per hour"),
        ConfigKey("policies[].rate_limit.day", "integer", "requests per day"),
        ConfigKey("policies[].rate_limit.by", "word or list", default: "client_ip", "`consumer`, `team`, `client_ip`, `route`, `service`, `header:NAME`, `tool` (in `mcp.policies`), or a list of them (a combined key); without a consumer (or the header), a request counts by its address"),
        ConfigKey("policies[].rate_limit.algorithm", ConfigKey.oneOf(RateLimitConfig.Algorithm.self), default: "sliding_window", "`sliding_window` (quotas: at most N in any window, a Cloudflare-style weighted counter) or `token_bucket` (rates with bursts)"),
        ConfigKey("policies[].rate_limit.burst", "integer", "token bucket capacity (default: the limit)"),
        ConfigKey("policies[].rate_limit.store", ConfigKey.oneOf(RateLimitConfig.Store.self), default: "local", "`local`: counters in the process, kept across reloads; `redis`: in the top-level `redis:`, shared by every gateway using it"),
        ConfigKey("policies[].rate_limit.fault_tolerant", "bool", default: "true", "with `store: redis`, when Redis does not answer within 250 ms: count locally (and say so in `triplegate_limiter_store_errors_total` and a log line at most every 10 s), or with `false` refuse with 503"),
        ConfigKey("policies[].key_auth.header_names", "list of header names", default: "[x-api-key]", "headers the key may come in, besides `Authorization: Bearer`"),
        ConfigKey("policies[].key_auth.query_names", "list of names", default: "[]", "query parameters the key may come in (keys in URLs end up in logs)"),
        ConfigKey("policies[].key_auth.hide_credentials", "bool", default: "true", "remove the key before the request goes upstream"),
        ConfigKey("policies[].key_auth.anonymous", "bool", default: "false", "let requests without a key through with no consumer (a wrong key is still refused)"),
        ConfigKey("policies[].jwt.anonymous", "bool", default: "false", "let requests without a token through with no consumer"),
        ConfigKey("policies[].jwt.hide_credentials", "bool", default: "false", "remove the token before the request goes upstream (many upstreams read the claims themselves)"),
        ConfigKey("policies[].oauth2_introspection.scopes", "list of strings", default: "[]", "the scopes this route accepts"),
        ConfigKey("policies[].oauth2_introspection.mandatory_scope", "bool", default: "false", "a token with none of `scopes` gets 403 `insufficient_scope`"),
        ConfigKey("policies[].oauth2_introspection.anonymous", "bool", default: "false", "let requests without a token through with no consumer"),
        ConfigKey("policies[].oauth2_introspection.hide_credentials", "bool", default: "true", "remove the token before the request goes upstream"),
        ConfigKey("policies[].mtls_auth.consumer_by", "list of: san_dns, san_uri, san_email, san, subject", default: "[san_dns, subject]", "the certificate fields that name the consumer, in order"),
        ConfigKey("policies[].mtls_auth.anonymous", "bool", default: "false", "let connections without a certificate through with no consumer"),
        ConfigKey("policies[].acl.allow", "list of groups", "consumer groups let through (deny wins)"),
        ConfigKey("policies[].acl.deny", "list of groups", "consumer groups refused with 403"),
    ])
}
