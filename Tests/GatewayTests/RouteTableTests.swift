@testable import Gateway
import GatewayCore
import NIOHTTP1
import Testing

func table(_ yaml: String) throws -> RouteTable {
    let c = try GatewayConfig.parse(yaml: yaml, environment: [:])
    return RouteTable(services: c.services, serverMaxBody: 0)
}

func route(_ t: RouteTable, _ uri: String, method: HTTPMethod = .GET, headers: [(String, String)] = []) -> String {
    var h = HTTPHeaders(headers)
    if !h.contains(name: "host") { h.add(name: "host", value: "gw.local") }
    switch t.match(RouteRequest(method: method, uri: uri, headers: h)!) {
    case .route(let r, _): return r.name
    case .methodNotAllowed(let allow): return "405 " + allow.joined(separator: ",")
    case .notFound: return "404"
    }
}

@Suite struct RouteTableTests {
    let precedence = """
        services:
          - name: s
            upstream: builtin:echo
            routes:
              - { name: root, paths: [/] }
              - { name: api, paths: [/api] }
              - { name: api-users, paths: [/api/users/] }
              - { name: exact-health, paths: ["=/api/health"] }
              - { name: regex-item, paths: ["~^/api/items/[0-9]+$"] }
              - { name: regex-any, paths: ["~^/api/.*$"] }
              - { name: api-post, paths: [/api], methods: [POST] }
              - { name: api-tenant, paths: [/api], headers: { X-Tenant-Id: [tenant-1, tenant-2] } }
        """

    @Test func exactBeatsPrefixBeatsRegex() throws {
        let t = try table(precedence)
        #expect(route(t, "/api/health") == "exact-health")
        #expect(route(t, "/api/health/x") == "api")  // exact means exact
        #expect(route(t, "/api/items/12") == "api")  // a prefix matches first: regexes come last
        #expect(route(t, "/other") == "root")
    }

    @Test func longestPrefixWinsOnSegmentBoundaries() throws {
        let t = try table(precedence)
        #expect(route(t, "/api/users") == "api-users")
        #expect(route(t, "/api/users/7?x=1") == "api-users")
        #expect(route(t, "/api/usersx") == "api")
        #expect(route(t, "/apix") == "root")  // /api never matches /apix
        #expect(route(t, "/api") == "api")
        #expect(route(t, "/api/") == "api")
    }

    @Test func moreConditionsWinAmongTheSamePath() throws {
        let t = try table(precedence)
        #expect(route(t, "/api/x", method: .POST) == "api-post")
        #expect(route(t, "/api/x", headers: [("X-Tenant-Id", "tenant-2")]) == "api-tenant")
        #expect(route(t, "/api/x", headers: [("x-tenant-id", "TENANT-1")]) == "api-tenant")  // values match case-insensitively
        #expect(route(t, "/api/x", headers: [("X-Tenant-Id", "tenant-3")]) == "api")
    }

    @Test func configOrderBreaksRemainingTies() throws {
        let t = try table("""
            services:
              - { name: a, upstream: builtin:echo, routes: [{ name: first, paths: [/x] }, { name: second, paths: [/x] }] }
            """)
        #expect(route(t, "/x") == "first")
    }

    @Test func regexRoutesMatchWhenNoPrefixDoes() throws {
        let t = try table("""
            services:
              - { name: a, upstream: builtin:echo, routes: [{ name: users, paths: ["~^/users/[0-9]+$"] }, { name: v, paths: ["~^/v[0-9]/"] }] }
            """)
        #expect(route(t, "/users/42") == "users")
        #expect(route(t, "/users/abc") == "404")
        #expect(route(t, "/v2/things") == "v")
    }

    @Test func methodMismatchGives405WithAllow() throws {
        let t = try table("""
            services:
              - name: a
                upstream: builtin:echo
                routes:
                  - { name: read, paths: [/users], methods: [GET, HEAD] }
                  - { name: write, paths: [/users], methods: [POST] }
            """)
        #expect(route(t, "/users", method: .DELETE) == "405 GET,HEAD,POST")
        #expect(route(t, "/other", method: .DELETE) == "404")
        #expect(route(t, "/users", method: .POST) == "write")
    }

    @Test func hostsMatchExactlyOrByWildcardButNeverTheApex() throws {
        let t = try table("""
            services:
              - name: a
                upstream: builtin:echo
                routes:
                  - { name: exact, hosts: [api.example.com] }
                  - { name: wild, hosts: ["*.example.com"] }
            """)
        #expect(route(t, "/", headers: [("host", "api.example.com:8080")]) == "exact")
        #expect(route(t, "/", headers: [("host", "API.Example.com")]) == "exact")
        #expect(route(t, "/", headers: [("host", "x.y.example.com")]) == "wild")
        #expect(route(t, "/", headers: [("host", "example.com")]) == "404")
    }

    @Test func queryAndRegexHeaderConditions() throws {
        let t = try table("""
            services:
              - name: a
                upstream: builtin:echo
                routes:
                  - { name: beta, paths: [/], query: { version: ["2", "~^3\\\\."] } }
                  - { name: mobile, paths: [/], headers: { User-Agent: ["~(?i)android|iphone"] } }
                  - { name: rest, paths: [/] }
            """)
        #expect(route(t, "/x?version=2") == "beta")
        #expect(route(t, "/x?a=1&version=3.1") == "beta")
        #expect(route(t, "/x?version=4") == "rest")
        #expect(route(t, "/x", headers: [("User-Agent", "Mozilla (iPhone)")]) == "mobile")
    }

    @Test func dotSegmentsAreResolvedBeforeMatching() throws {
        let t = try table("""
            services:
              - { name: a, upstream: builtin:echo, routes: [{ name: public, paths: [/public] }, { name: admin, paths: [/admin] }] }
            """)
        #expect(route(t, "/public/../admin/x") == "admin")
        #expect(route(t, "/public/%2e%2e/admin") == "admin")
        #expect(route(t, "/public//./x") == "public")
    }

    @Test func pathRewriting() throws {
        let t = try table("""
            services:
              - name: a
                upstream: builtin:echo
                routes:
                  - { name: strip, paths: [/api/v1/users], strip_path: true }
                  - { name: rewrite, paths: [/v1], rewrite_prefix: /internal/v1 }
                  - { name: keep, paths: [/keep] }
            """)
        func upstream(_ uri: String) -> String {
            let req = RouteRequest(method: .GET, uri: uri, headers: ["host": "h"])!
            guard case .route(let r, let n) = t.match(req) else { return "none" }
            return r.upstreamPath(req.path, matchedLength: n)
        }
        #expect(upstream("/api/v1/users") == "/")
        #expect(upstream("/api/v1/users/42") == "/42")
        #expect(upstream("/v1/things") == "/internal/v1/things")
        #expect(upstream("/v1") == "/internal/v1")
        #expect(upstream("/keep/x") == "/keep/x")
    }
}
