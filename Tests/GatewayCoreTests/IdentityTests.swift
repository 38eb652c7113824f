import GatewayCore
import NIOHTTP1
import Testing

@Suite struct IdentityTests {
    let consumers = [
        "web-app": Consumer(name: "web-app", team: "growth", groups: ["group-user"]),
        "ops": Consumer(name: "ops", team: "platform", groups: ["group-admin", "group-user"]),
    ]

    func context(_ headers: HTTPHeaders, query: Substring? = nil) -> PolicyContext {
        PolicyContext(method: .GET, headers: headers, clientIP: "127.0.0.1", query: query, service: "s", route: "r", now: 0)
    }

    func index(_ keys: [(String, String)]) -> KeyIndex {
        let index = KeyIndex()
        index.replace(with: keys.enumerated().map { KeyIndex.Entry(id: "k\($0.offset)", consumer: $0.element.1, digest: APIKey.hash($0.element.0)) })
        return index
    }

    @Test func keysAreRandomPrefixedAndStoredOnlyAsDigests() {
        let a = APIKey.generate(), b = APIKey.generate()
        #expect(a != b && a.hasPrefix("tg-") && a.count == 46)
        #expect(APIKey.hash(a).count == 32 && APIKey.hash(a) == APIKey.hash(a) && APIKey.hash(a) != APIKey.hash(b))
        #expect(APIKey.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!APIKey.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!APIKey.constantTimeEquals([1, 2], [1, 2, 3]))
    }

    /// A certificate names a consumer by the fields configured, in order; several common names,
    /// or one field naming two consumers, is refused rather than guessed.
    @Test func mtlsReadsOnlyTheConfiguredFieldsAndRefusesAmbiguousCertificates() {
        func who(_ cert: ClientCertificate, by sources: [MTLSAuthConfig.Source] = [.sanDNS, .subject]) -> String {
            var config = MTLSAuthConfig()
            config.consumerBy = sources
            var ctx = PolicyContext(method: .GET, headers: [:], clientIP: "127.0.0.1", query: nil, service: "s", route: "r", now: 0,
                                    clientCertificate: cert)
            switch MTLSAuthPolicy(config: config, consumers: consumers).apply(&ctx) {
            case .proceed: return ctx.consumer?.name ?? "-"
            case .reject(let p): return "\(p.status.code) \(p.title)"
            default: return "?"
            }
        }
        #expect(who(ClientCertificate(commonNames: ["x"], dnsNames: ["web-app"])) == "web-app")
        #expect(who(ClientCertificate(commonNames: ["ops"])) == "ops")
        // An e-mail or URI SAN equal to a consumer's name counts only when configured.
        #expect(who(ClientCertificate(commonNames: ["x"], emails: ["ops"])) == "401 Client certificate names no known consumer")
        #expect(who(ClientCertificate(commonNames: ["x"], emails: ["ops"]), by: [.sanEmail]) == "ops")
        #expect(who(ClientCertificate(commonNames: [], uris: ["web-app"]), by: [.sanURI]) == "web-app")
        #expect(who(ClientCertificate(commonNames: [], uris: ["web-app"]), by: [.san]) == "web-app")
        // Ambiguous: two common names, or two consumers in the first field that names any.
        #expect(who(ClientCertificate(commonNames: ["x", "ops"])) == "401 Client certificate is ambiguous")
        #expect(who(ClientCertificate(commonNames: ["ops"], dnsNames: ["web-app", "ops"])) == "401 Client certificate is ambiguous")
        #expect(who(ClientCertificate(commonNames: ["web-app"], dnsNames: ["ops", "nobody"])) == "ops")  // DNS first, one consumer
    }

    @Test func keyAuthMapsBearerAndHeaderKeysToConsumers() {
        let key = APIKey.generate()
        let policy = KeyAuthPolicy(config: KeyAuthConfig(), keys: index([(key, "web-app")]), consumers: consumers)
        for headers: HTTPHeaders in [["authorization": "Bearer \(key)"], ["x-api-key": key]] {
            var ctx = context(headers)
            guard case .proceed = policy.apply(&ctx) else { Issue.record("refused a valid key"); continue }
            #expect(ctx.consumer?.name == "web-app" && ctx.consumer?.team == "growth")
            #expect(ctx.removeRequestHeaders.count == 1)  // hidden from the upstream
        }
    }

    @Test func missingAndInvalidKeysGet401WithAChallenge() {
        let policy = KeyAuthPolicy(config: KeyAuthConfig(), keys: index([(APIKey.generate(), "web-app")]), consumers: consumers)
        var none = context([:])
        guard case .reject(let p) = policy.apply(&none) else { Issue.record("no key passed"); return }
        #expect(p.status == .unauthorized && p.headers.contains { $0 == ("www-authenticate", "Bearer realm=\"triplegate\"") })
        var bad = context(["x-api-key": "tg-nope"])
        guard case .reject(let q) = policy.apply(&bad) else { Issue.record("bad key passed"); return }
        #expect(q.headers.contains { $0.1.contains("invalid_token") })
    }

    @Test func aKeyOfAConsumerNoLongerInTheConfigIsRefused() {
        let key = APIKey.generate()
        let policy = KeyAuthPolicy(config: KeyAuthConfig(), keys: index([(key, "gone")]), consumers: consumers)
        var ctx = context(["x-api-key": key])
        guard case .reject = policy.apply(&ctx) else { Issue.record("orphan key passed"); return }
    }

    @Test func anonymousLetsKeylessRequestsThroughButNotBadKeys() {
        var c = KeyAuthConfig()
        c.anonymous = true
        let policy = KeyAuthPolicy(config: c, keys: index([]), consumers: consumers)
        var none = context([:])
        guard case .proceed = policy.apply(&none) else { Issue.record("anonymous refused"); return }
        #expect(none.consumer == nil)
        var bad = context(["x-api-key": "tg-nope"])
        guard case .reject = policy.apply(&bad) else { Issue.record("bad key passed"); return }
    }

    @Test func queryKeysOnlyWhenConfigured() {
        let key = APIKey.generate()
        var c = KeyAuthConfig()
        c.queryNames = ["apikey"]
        let policy = KeyAuthPolicy(config: c, keys: index([(key, "ops")]), consumers: consumers)
        var ctx = context([:], query: "a=1&apikey=\(key)")
        guard case .proceed = policy.apply(&ctx) else { Issue.record("query key refused"); return }
        #expect(ctx.consumer?.name == "ops")
    }

    @Test func aclAllowsListedGroupsAndDenyWins() {
        var allowAdmins = ACLConfig()
        allowAdmins.allow = ["group-admin"]
        var denyUsers = ACLConfig()
        denyUsers.allow = ["group-admin"]
        denyUsers.deny = ["group-user"]
        func verdict(_ config: ACLConfig, _ consumer: Consumer?) -> HTTPResponseStatus? {
            var ctx = context([:])
            ctx.consumer = consumer
            if case .reject(let p) = ACLPolicy(config: config).apply(&ctx) { return p.status }
            return nil
        }
        #expect(verdict(allowAdmins, consumers["ops"]) == nil)
        #expect(verdict(allowAdmins, consumers["web-app"]) == .forbidden)
        #expect(verdict(denyUsers, consumers["ops"]) == .forbidden)  // in both: deny wins
        #expect(verdict(allowAdmins, nil) == .unauthorized)
    }

    @Test func identityConfigProblemsHaveTheirPaths() {
        let yaml = """
            store: mysql://db/x
            consumers:
              - { name: a, groups: [g] }
              - { name: a, team: t, colour: red }
            services:
              - name: s
                upstream: builtin:echo
                policies: [{ key_auth: { hide_credentials: maybe } }, { acl: {} }]
                routes: [{ paths: [/] }]
            """
        #expect(problems(yaml) == [
            "consumers[1].colour: unknown key",
            "services[0].policies[0].key_auth.hide_credentials: must be true or false (got \"maybe\")",
            "services[0].policies[1].acl: must list allow or deny groups",
            "consumers[1].name: duplicates consumers[0].name \"a\"",
            "store: must be sqlite:PATH or postgres://user[:password]@host[:port][/database][?sslmode=disable|prefer|require|verify-full] (got \"mysql://db/x\")",
        ])
    }
}
