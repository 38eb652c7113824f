@testable import GatewayCore
import Testing

@Suite struct AuthConfigTests {
    let services = """
        services:
          - name: a
            upstream: builtin:echo
            policies: [{ jwt: {} }, { oauth2_introspection: { scopes: [write], mandatory_scope: true } }]
            routes: [{ paths: [/a] }]
        """

    @Test func defaults() throws {
        let c = try GatewayConfig.parse(yaml: """
            auth:
              jwt: { jwks_url: "http://127.0.0.1:9200/.well-known/jwks.json" }
              introspection: { url: "http://127.0.0.1:9201/introspect" }
            \(services)
            """, environment: [:])
        let j = try #require(c.auth.jwt)
        #expect(j.claimsToVerify == [.exp])
        #expect(j.clockSkew == .seconds(30))
        #expect(j.consumerClaim == "sub")
        #expect(j.jwksRefresh == .seconds(600) && j.jwksMinRefresh == .seconds(30))
        #expect(j.issuers.isEmpty && j.audiences.isEmpty && j.maximumExpiration == nil && !j.requireKnownConsumer)
        let i = try #require(c.auth.introspection)
        #expect(i.cacheTTL == .seconds(60) && i.negativeTTL == .seconds(5) && i.timeout == .seconds(5))
        guard case .jwt(let p) = c.services[0].policies[0] else { Issue.record("not jwt"); return }
        #expect(!p.anonymous && !p.hideCredentials)
        guard case .oauth2Introspection(let o) = c.services[0].policies[1] else { Issue.record("not introspection"); return }
        #expect(o.scopes == ["write"] && o.mandatoryScope && o.hideCredentials)
    }

    @Test func everyInvalidFieldIsReportedWithItsPath() {
        let found = problems("""
            auth:
              jwt:
                jwks_url: "ftp://x"
                claims_to_verify: [exp, iat]
                maximum_expiration: 0
                keys:
                  - { algorithm: HS256, secret: short }
                  - { algorithm: RS256, secret: "0123456789012345678901234567890123456789" }
                  - { algorithm: XS1, public_key: "x" }
                  - { algorithm: ES256, public_key: "not a pem" }
                  - { algorithm: RS256 }
                surprise: 1
              introspection: { client_id: x }
            server:
              tls: { certificate: /nonexistent.pem, key: /nonexistent.key, client_auth: required }
            services:
              - name: a
                upstream: builtin:echo
                policies:
                  - oauth2_introspection: { mandatory_scope: true }
                  - mtls_auth: { consumer_by: [] }
                  - jwt: { anonymous: maybe }
                routes: [{ paths: [/a] }]
            """)
        let expected = [
            "auth.jwt.jwks_url",
            "auth.jwt.claims_to_verify[1]",
            "auth.jwt.maximum_expiration",
            "auth.jwt.keys[0].secret: must be at least 32 bytes for HS256",
            "auth.jwt.keys[1].secret: is only for HS256/384/512",
            "auth.jwt.keys[2].algorithm: must be one of",
            "auth.jwt.keys[3]: invalid key: ES256 public key",
            "auth.jwt.keys[4]: needs one of secret, public_key, public_key_file, jwk",
            "auth.jwt.surprise: unknown key",
            "auth.introspection.url: is required",
            "server.tls.client_auth: needs client_ca_file",
            "services[0].policies[0].oauth2_introspection.mandatory_scope: needs scopes",
            "services[0].policies[1].mtls_auth.consumer_by: must name at least one of san_dns, san_uri, san_email, san, subject",
            "services[0].policies[2].jwt.anonymous",
        ]
        for e in expected {
            #expect(found.contains { $0.hasPrefix(e) }, "missing: \(e)\nin: \(found.joined(separator: "\n"))")
        }
    }

    @Test func policiesNeedTheirAuthSection() {
        let found = problems("""
            services:
              - name: a
                upstream: builtin:echo
                policies: [{ jwt: {} }, { oauth2_introspection: {} }, { mtls_auth: {} }]
                routes: [{ paths: [/a] }]
            """)
        #expect(found.contains("services[0].policies[0].jwt: needs a top-level auth.jwt (issuer, jwks_url or keys)"))
        #expect(found.contains("services[0].policies[1].oauth2_introspection: needs a top-level auth.introspection (url, client_id, client_secret)"))
        #expect(found.contains("services[0].policies[2].mtls_auth: needs server.tls with client_ca_file (client certificates are asked for only then)"))
    }

    @Test func effectiveConfigRedactsSecrets() throws {
        let c = try GatewayConfig.parse(yaml: """
            auth:
              jwt: { keys: [{ kid: a, algorithm: HS256, secret: "super-secret-value-that-is-32-bytes-long" }] }
              introspection: { url: "http://127.0.0.1:1/i", client_id: gw, client_secret: hunter2 }
            \(services)
            """, environment: [:])
        let text = c.effectiveJSON.text
        #expect(!text.contains("super-secret") && !text.contains("hunter2"))
        #expect(text.contains("[redacted]"))
    }
}
