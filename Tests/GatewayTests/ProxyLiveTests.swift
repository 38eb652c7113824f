import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import NIOCore
import NIOPosix
import Testing

/// The API gate over real sockets on 127.0.0.1, in-process. The Python suite under
/// Tests/integration drives the real binary with real clients; these check the same handler
/// from Swift, quickly.
@Suite struct ProxyLiveTests {
    static let echoConfig = """
        services:
          - name: echo
            upstream: builtin:echo
            routes:
              - { name: users, paths: [/users], methods: [GET, POST], strip_path: true }
              - { name: small, paths: [/small], max_body_bytes: 10 }
        """

    @Test func echoAnswersThroughTheRouteWithForwardedHeaders() async throws {
        let gw = try await GatewayHarness.start(yaml: Self.echoConfig)
        let answer = try await RawHTTPClient.exchange(
            "GET /users/42?x=1 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nX-Request-Id: abc-1\r\n\r\n", port: gw.port, group: gw.group)
        #expect(answer.hasPrefix("HTTP/1.1 200 OK"))
        #expect(answer.contains(#""uri":"/42?x=1""#))
        #expect(answer.contains(#""x-forwarded-for":"127.0.0.1""#))
        #expect(answer.contains(#""via":"1.1 triplegate""#))
        #expect(answer.contains(#""x-request-id":"abc-1""#))
        #expect(!answer.contains(#""connection""#))  // hop-by-hop, never forwarded
        try await gw.stop()
    }

    @Test func unknownPathIs404ProblemAndWrongMethodIs405WithAllow() async throws {
        let gw = try await GatewayHarness.start(yaml: Self.echoConfig)
        let notFound = try await RawHTTPClient.exchange("GET /nope HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", port: gw.port, group: gw.group)
        #expect(notFound.hasPrefix("HTTP/1.1 404 Not Found"))
        #expect(notFound.contains("content-type: application/problem+json"))
        #expect(notFound.contains(#""status":404"#))
        let wrong = try await RawHTTPClient.exchange("DELETE /users HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", port: gw.port, group: gw.group)
        #expect(wrong.hasPrefix("HTTP/1.1 405 Method Not Allowed"))
        #expect(wrong.contains("allow: GET, POST"))
        try await gw.stop()
    }

    @Test func malformedRequestGets400AndTheGatewayKeepsServing() async throws {
        let gw = try await GatewayHarness.start(yaml: Self.echoConfig)
        let bad = try await RawHTTPClient.exchange("GARBAGE\r\n\r\n", port: gw.port, group: gw.group)
        #expect(bad.hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(bad.contains("connection: close"))
        let ok = try await RawHTTPClient.exchange("GET /users HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", port: gw.port, group: gw.group)
        #expect(ok.hasPrefix("HTTP/1.1 200 OK"))
        try await gw.stop()
    }

    @Test func oversizedBodyByContentLengthGets413() async throws {
        let gw = try await GatewayHarness.start(yaml: Self.echoConfig)
        let answer = try await RawHTTPClient.exchange(
            "POST /small HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\n\r\nhello world", port: gw.port, group: gw.group)
        #expect(answer.hasPrefix("HTTP/1.1 413 Payload Too Large"))
        try await gw.stop()
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let gw = try await GatewayHarness.start(yaml: Self.echoConfig)
        let two = "GET /users/1 HTTP/1.1\r\nHost: gw\r\n\r\nGET /users/2 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"
        let answer = try await RawHTTPClient.exchange(two, port: gw.port, group: gw.group)
        let first = try #require(answer.range(of: #""uri":"/1""#))
        let second = try #require(answer.range(of: #""uri":"/2""#))
        #expect(first.lowerBound < second.lowerBound)
        try await gw.stop()
    }

    @Test func reloadSwapsRoutesWhileServing() async throws {
        let gw = try await GatewayHarness.start(yaml: Self.echoConfig)
        let before = try await RawHTTPClient.exchange("GET /new HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", port: gw.port, group: gw.group)
        #expect(before.hasPrefix("HTTP/1.1 404"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tg-reload-\(UUID().uuidString).yaml").path
        try "services: [{ name: e, upstream: builtin:echo, routes: [{ paths: [/new] }] }]".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await gw.server.reload(path: file))
        let after = try await RawHTTPClient.exchange("GET /new HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", port: gw.port, group: gw.group)
        #expect(after.hasPrefix("HTTP/1.1 200"))
        // An invalid file is refused and the last good config keeps serving.
        try "services: [{ name: e, upstream: builtin:echo, routes: [{ paths: [nope] }] }]".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await gw.server.reload(path: file) == false)
        #expect(gw.server.state.lastReloadError?.contains("services[0].routes[0].paths[0]") == true)
        let still = try await RawHTTPClient.exchange("GET /new HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", port: gw.port, group: gw.group)
        #expect(still.hasPrefix("HTTP/1.1 200"))
        try await gw.stop()
    }
}
