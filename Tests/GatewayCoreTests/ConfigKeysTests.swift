import GatewayCore
import GatewayTesting
import Testing

/// A config that sets every key the core reads (values need not make sense together: only
/// which keys the readers look up counts), and holds each secret as `SECRET-<its path>`.
let everyCoreKey = """
    server:
      listen: 127.0.0.1:8080
      event_loops: 1
      h2c: true
      tls: { certificate: /dev/null, key: /dev/null, client_ca_file: /dev/null, client_auth: optional }
      limits: { max_header_bytes: 1KiB, max_headers: 10, max_body_bytes: 1, client_header_timeout: 1s, client_body_timeout: 1s, keepalive_timeout: 1s, max_connections: 1 }
      escaped_slashes: reject
      shutdown_grace: 1s
    admin: { listen: 127.0.0.1:9901, enabled: true, allowed_hosts: [a] }
    reload: { watch: true, interval: 1s }
    telemetry:
      access_log: { enabled: true, path: stdout, fields: [status] }
      traces: { endpoint: "http://127.0.0.1:4318", protocol: http/protobuf, service_name: s, sample_ratio: 1, batch_delay: 1s }
    consumers: [{ name: a, team: t, groups: [g], tags: [x] }]
    store: "postgres://u:SECRET-store@127.0.0.1:5432/db"
    redis: "redis://u:SECRET-redis@127.0.0.1:6379"
    auth:
      jwt:
        issuer: i
        audiences: [a]
        jwks_url: "http://127.0.0.1:1/jwks"
        jwks_ca_file: /dev/null
        jwks_refresh: 1m
        jwks_min_refresh: 1s
        keys:
          - { kid: a, algorithm: HS256, secret: "SECRET-auth.jwt.keys[].secret-0123456789abcdef0123456789" }
          - { kid: b, algorithm: RS256, public_key_file: /dev/null }
          - { kid: c, algorithm: RS256, public_key: "p" }
          - { algorithm: EdDSA, jwk: '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"SECRET-auth.jwt.keys[].jwk"}' }
        clock_skew: 1s
        maximum_expiration: 3600
        consumer_claim: sub
        team_claim: t
        groups_claim: g
        claims_to_verify: [exp]
        require_known_consumer: true
      introspection: { url: "http://127.0.0.1:1/i", client_id: c, client_secret: SECRET-auth.introspection.client_secret, cache_ttl: 1s, negative_ttl: 1s, timeout: 1s, ca_file: /dev/null, consumer_claim: sub, groups_claim: g }
    services:
      - name: s
        upstream:
          targets: [{ url: "http://127.0.0.1:1", weight: 1 }]
          balance: hash
          hash_on: { header: x }
          protocol: http1
          tls: { ca_file: /dev/null, verify: true, server_name: n }
          retries: { attempts: 1, on: [502], backoff: { base: 1ms, max: 2ms }, budget: { ratio: 0.2, min_per_second: 1 }, buffer_bytes: 1KiB }
          timeouts: { connect: 1s, per_try: 1s, total: 1s, read: 1s }
          pool: { max_connections: 1, idle_timeout: 1s }
        policies:
          - rate_limit: { minute: 1, second: 1, hour: 1, day: 1, by: [client_ip], algorithm: token_bucket, burst: 1, store: local, fault_tolerant: true }
          - key_auth: { header_names: [x], query_names: [k], hide_credentials: true, anonymous: false }
          - jwt: { anonymous: false, hide_credentials: false }
          - oauth2_introspection: { scopes: [a], mandatory_scope: true, anonymous: false, hide_credentials: true }
          - acl: { allow: [a], deny: [b] }
          - mtls_auth: { consumer_by: [subject], anonymous: false }
        routes:
          - name: r
            paths: [/]
            methods: [GET]
            hosts: [a.example]
            headers: { X-A: [b] }
            query: { q: [v] }
            strip_path: false
            rewrite_prefix: /x
            preserve_host: false
            max_body_bytes: 1
            policies: []
      - name: t
        upstream:
          targets: [{ url: "http://127.0.0.1:1" }]
          hash_on: { cookie: c }
        routes: [{ paths: [/t] }]
      - name: u
        upstream:
          targets: [{ url: "http://127.0.0.1:1" }]
          hash_on: { client_ip: true }
        routes: [{ paths: [/u] }]
    """

@Suite struct ConfigKeysTests {
    @Test func everyKeyTheCoreReadsIsDeclaredAndEveryDeclaredKeyIsRead() {
        let found = ConfigKeyChecks.undeclaredAndUnread(yaml: everyCoreKey, sections: [], declared: ConfigKeys.tables) { _ in true }
        #expect(found.undeclared == [])
        #expect(found.unread == [])
    }

    @Test func theDeclaredDefaultsAreWhatAConfigGetsWithoutTheKey() throws {
        let base = "services: [{ name: e, upstream: builtin:echo, routes: [{ paths: [/] }] }]"
        #expect(try ConfigKeyChecks.wrongDefaults(base: base, sections: [], declared: ConfigKeys.tables) == [])
    }

    @Test func theChecksFindAWrongDefaultAMissingKeyAndAKeyNoReaderReads() throws {
        let base = "services: [{ name: e, upstream: builtin:echo, routes: [{ paths: [/] }] }]"
        let wrong = ConfigKeyTable("server", [
            ConfigKey("server.listen", "host:port", default: "127.0.0.1:1", "wrong"),
            ConfigKey("server.h2c", "bool", default: "true", "right"),
            ConfigKey("server.limits.max_headers", "integer", default: "99", "wrong"),
        ])
        #expect(try ConfigKeyChecks.wrongDefaults(base: base, sections: [], declared: [wrong]) == ["server.listen", "server.limits.max_headers"])
        let found = ConfigKeyChecks.undeclaredAndUnread(yaml: everyCoreKey, sections: [], declared: [wrong] + [
            ConfigKeyTable("server", [ConfigKey("server.colour", "string", "no reader reads it")]),
        ]) { $0.hasPrefix("server.") }
        #expect(found.undeclared.contains("server.event_loops") && found.undeclared.contains("server.tls.key"))
        #expect(found.unread == ["server.colour"])
    }

    @Test func noDeclaredSecretIsPrinted() throws {
        // Without the keys that need real PEM material (what is read is checked above).
        let valid = everyCoreKey.split(separator: "\n").filter { !$0.contains("kid: b,") && !$0.contains("kid: c,") }.joined(separator: "\n")
        let found = try ConfigKeyChecks.secretProblems(yaml: valid, sections: [], declared: ConfigKeys.tables)
        #expect(found.notInConfig == [] && !found.shown)
    }

    @Test func tablesGoBetweenTheirMarkersAndAMissingPlaceIsAnError() throws {
        let table = ConfigKeyTable("t", [ConfigKey("t.a", "bool", default: "true", "a | b")])
        let doc = "# T\n\n<!-- keys: t -->\nold\n<!-- /keys -->\n\nafter\n"
        let spliced = try ConfigKeyTable.splice([table], into: doc)
        #expect(spliced == "# T\n\n<!-- keys: t -->\n| key | type | default | meaning |\n|---|---|---|---|\n| `a` | bool | `true` | a \\| b |\n<!-- /keys -->\n\nafter\n")
        #expect(try ConfigKeyTable.splice([table], into: spliced) == spliced)
        #expect(throws: ConfigKeyTable.SpliceError.self) { try ConfigKeyTable.splice([table], into: "no markers") }
        #expect(throws: ConfigKeyTable.SpliceError.self) { try ConfigKeyTable.splice([], into: doc) }
    }
}
