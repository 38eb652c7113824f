import GatewayCore
import Testing

/// Parses YAML and returns the problems as "path: message" strings (empty when valid).
func problems(_ yaml: String, env: [String: String] = [:]) -> [String] {
    do {
        _ = try GatewayConfig.parse(yaml: yaml, environment: env)
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

let minimal = """
    services:
      - name: a
        upstream: { targets: [{ url: http://127.0.0.1:9101 }] }
        routes: [{ paths: [/a] }]
    """

@Suite struct ConfigValidationTests {
    @Test func minimalConfigIsValidWithDocumentedDefaults() throws {
        let c = try GatewayConfig.parse(yaml: minimal, environment: [:])
        #expect(c.server.listen == "0.0.0.0:8080")
        #expect(c.admin.listen == "127.0.0.1:9901")
        #expect(c.server.limits.maxHeaderBytes == 32 * 1024)
        #expect(c.server.limits.maxHeaders == 100)
        #expect(c.services[0].upstream.balance == .weighted)
        #expect(c.services[0].upstream.targets[0].weight == 100)
        #expect(c.services[0].upstream.timeouts.connect == .seconds(5))
        #expect(c.services[0].upstream.retries.attempts == 2)
        #expect(c.services[0].upstream.retries.on == .defaults)
        #expect(c.services[0].routes[0].stripPath == false)
        #expect(c.services[0].upstream.pool.maxConnections == 256)
    }

    @Test func issueExampleIsValid() throws {
        let yaml = """
            services:
              - name: user-service
                upstream:
                  targets:
                    - { url: http://127.0.0.1:9101, weight: 95 }
                    - { url: http://127.0.0.1:9102, weight: 5 }   # canary
                routes:
                  - name: user-route
                    paths: [/api/v1/users]
                    methods: [GET, POST]
                    strip_path: true
              - name: tenant-service
                upstream: { targets: [{ url: http://127.0.0.1:9103 }] }
                routes:
                  - paths: [/api]
                    headers: { X-Tenant-Id: [tenant-1, tenant-2] }
            """
        let c = try GatewayConfig.parse(yaml: yaml, environment: [:])
        #expect(c.services.count == 2)
        #expect(c.services[0].upstream.targets.map(\.weight) == [95, 5])
        #expect(c.services[1].routes[0].headers[0].name == "X-Tenant-Id")
        #expect(c.services[1].routes[0].headers[0].values == ["tenant-1", "tenant-2"])
    }

    @Test func unknownKeysAreRejectedWithTheirPath() {
        let yaml = """
            services:
              - name: a
                upstream: { targets: [{ url: http://h:1, wieght: 3 }] }
                routes: [{ paths: [/a], strip_paht: true }]
            servr: {}
            """
        #expect(problems(yaml) == [
            "services[0].upstream.targets[0].wieght: unknown key",
            "services[0].routes[0].strip_paht: unknown key",
            "servr: unknown key",
        ])
    }

    @Test func everyProblemIsReportedAtOnceWithItsExactPath() {
        let yaml = """
            server: { listen: nowhere, limits: { max_headers: 0 } }
            services:
              - name: a
                upstream:
                  targets: [{ url: "ftp://h:1" }, { url: http://h:1, weight: -1 }]
                  balance: random
                routes:
                  - paths: [/ok, "nope", "~("]
                    methods: [get]
                    hosts: ["a.*.com"]
                    rewrite_prefix: v2
              - name: a
                upstream: { targets: [{ url: http://h:1 }], balance: hash }
                routes: []
            """
        #expect(problems(yaml) == [
            "server.limits.max_headers: must be >= 1 (got 0)",
            "services[0].upstream.targets[1].weight: must be >= 0 (got -1)",
            "services[0].upstream.balance: must be one of weighted, least_connections, hash (got \"random\")",
            "server.listen: must be host:port (got \"nowhere\")",
            "services[0].upstream.targets[0].url: unsupported scheme \"ftp\" (use http or https) (got \"ftp://h:1\")",
            "services[0].routes[0].paths[1]: must start with \"/\" (or \"=/\" for exact, \"~\" for a regex) (got \"nope\")",
            "services[0].routes[0].paths[2]: is not a valid regular expression",
            "services[0].routes[0].methods[0]: must be an upper-case HTTP method (got \"get\")",
            "services[0].routes[0].hosts[0]: must be a host name or *.domain (got \"a.*.com\")",
            "services[0].routes[0].rewrite_prefix: must start with \"/\" (got \"v2\")",
            "services[1].name: duplicates services[0].name \"a\"",
            "services[1].upstream.hash_on: is required when balance is hash",
            "services[1].routes: must list at least one route",
        ])
    }

    @Test func typeErrorsNameThePathAndTheValue() {
        let yaml = """
            server: { event_loops: many, h2c: maybe, shutdown_grace: soon }
            services:
              - name: [x]
                upstream: { targets: { url: http://h:1 } }
                routes: [{ paths: /a }]
            """
        #expect(problems(yaml) == [
            "server.event_loops: must be an integer (got \"many\")",
            "server.h2c: must be true or false (got \"maybe\")",
            "server.shutdown_grace: must be a duration like 250ms, 5s, 2m or 1h (got \"soon\")",
            "services[0].name: must be a scalar (got a list)",
            "services[0].upstream.targets: must be a list (got a mapping)",
            "services[0].routes[0].paths: must be a list (got a scalar)",
        ])
    }

    @Test func missingRequiredFieldsAreReported() {
        let yaml = """
            services:
              - routes: [{ paths: [/a] }]
              - name: b
                upstream: { targets: [{ weight: 1 }] }
                routes: [{ paths: [/b] }]
            """
        #expect(problems(yaml) == [
            "services[0].name: is required",
            "services[0].upstream: is required",
            "services[1].upstream.targets[0].url: is required",
        ])
    }

    @Test func environmentReferencesAreSubstitutedAndUnsetOnesReported() throws {
        let yaml = """
            services:
              - name: a
                upstream: { targets: [{ url: "http://${HOST}:9101" }] }
                routes: [{ paths: ["/${MISSING}"] }]
            """
        #expect(problems(yaml, env: ["HOST": "127.0.0.1"]) == [
            "services[0].routes[0].paths[0]: refers to ${MISSING}, which is not set in the environment",
        ])
        let ok = yaml.replacingOccurrences(of: "${MISSING}", with: "x")
        let c = try GatewayConfig.parse(yaml: ok, environment: ["HOST": "10.0.0.1"])
        #expect(c.services[0].upstream.targets[0].url == "http://10.0.0.1:9101")
    }

    @Test func retryConditionsAreCheckedOneByOne() {
        let yaml = minimal.replacingOccurrences(of: "upstream: { targets: [{ url: http://127.0.0.1:9101 }] }", with: """
            upstream:
                  targets: [{ url: http://127.0.0.1:9101 }]
                  retries: { attempts: 11, on: [connect, 503, 200, sometimes], backoff: { base: 1s, max: 10ms } }
            """)
        #expect(problems(yaml) == [
            "services[0].upstream.retries.attempts: must be <= 10 (got 11)",
            "services[0].upstream.retries.on[2]: must be connect, timeout, 408, 429 or a 5xx status (got \"200\")",
            "services[0].upstream.retries.on[3]: must be connect, timeout, 408, 429 or a 5xx status (got \"sometimes\")",
            "services[0].upstream.retries.backoff.max: must be >= backoff.base",
        ])
    }

    @Test func emptyAndInvalidYAMLAreProblemsNotCrashes() {
        #expect(problems("") == ["is empty: it needs at least one service", "services: must list at least one service"])
        #expect(problems("services: [").first?.hasPrefix("is not valid YAML") == true)
        #expect(problems("- a\n- b") == ["must be a mapping (got a list)", "services: must list at least one service"])
    }

    @Test func upstreamShorthandIsOneTarget() throws {
        let c = try GatewayConfig.parse(yaml: "services: [{ name: e, upstream: builtin:echo, routes: [{ paths: [/] }] }]", environment: [:])
        #expect(c.services[0].upstream.targets == [TargetConfig(url: "builtin:echo", weight: 100)])
        #expect(problems("services: [{ name: e, upstream: builtin:nope, routes: [{ paths: [/] }] }]") == [
            "services[0].upstream.targets[0].url: unknown builtin \"nope\" (known: echo) (got \"builtin:nope\")",
        ])
    }

    /// The YAML tree is read without tag resolution (every scalar is text to the readers): keys
    /// written twice, however quoted, are still refused; a merge key is an unknown key, as it
    /// was; `${...}` is only looked for where a `$` is.
    @Test func scalarsAreTextAndKeysAreStillUnique() throws {
        #expect(problems("services: []\nservices: []").first?.contains("duplicate") == true)
        #expect(problems("services: []\n\"services\": []").first?.contains("duplicate") == true)
        #expect(problems(minimal + "\nserver: { h2c: \"false\", event_loops: '2', listen: 127.0.0.1:1 }").isEmpty)
        #expect(problems(minimal + "\nserver: { h2c: maybe }") == ["server.h2c: must be true or false (got \"maybe\")"])
        #expect(problems(minimal + "\nserver: { <<: { h2c: false } }") == ["server.<<: unknown key"])
        #expect(problems(minimal + "\nserver: { listen: \"$5:80\" }").first?.contains("${") != true)
        #expect(problems(minimal + "\nserver: { listen: \"${NOPE}\" }").contains("server.listen: refers to ${NOPE}, which is not set in the environment"))
    }
}
