import GatewayCore
import NIOCore
import NIOHTTP1

/// `GET /.well-known/oauth-protected-resource<path>`: the OAuth protected-resource metadata
/// (RFC 9728) of one MCP path, public, so an agent that got a 401 learns which authorization
/// server issues tokens for it.
final class ResourceMetadataEndpoint: RequestExchange {
    unowned let client: ClientResponder
    let request: MountedRequest
    let document: JSONValue

    init(client: ClientResponder, request: MountedRequest, document: JSONValue) {
        self.client = client
        self.request = request
        self.document = document
    }

    /// The document for `resource`.
    static func document(resource: String, oauth: MCPOAuthConfig) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("resource", .string(resource)),
            ("authorization_servers", .array(oauth.authorizationServers.map { .string($0) })),
            ("bearer_methods_supported", .array([.string("header")])),
            ("resource_name", .string("Triplegate MCP")),
        ]
        if !oauth.scopesSupported.isEmpty { fields.append(("scopes_supported", .array(oauth.scopesSupported.map { .string($0) }))) }
        return .object(fields)
    }

    /// The URL an agent called `path` by (for the default `resource`), from its `Host`.
    static func origin(of head: HTTPRequestHead, tls: Bool) -> String {
        (tls ? "https://" : "http://") + (head.headers.first(name: "host") ?? "localhost")
    }

    func requestBody(_ body: ByteBuffer) {}

    func requestEnd(_ trailers: HTTPHeaders?) {
        var body = client.allocator.buffer(capacity: 256)
        document.write(to: &body)
        var h = HTTPHeaders()
        h.add(name: "content-type", value: "application/json")
        h.add(name: "content-length", value: String(body.readableBytes))
        h.add(name: "cache-control", value: "max-age=3600")
        let ok = request.head.method == .GET || request.head.method == .HEAD
        if !ok { h.add(name: "allow", value: "GET, HEAD") }
        client.writeResponseHead(HTTPResponseHead(version: request.head.version, status: ok ? .ok : .methodNotAllowed, headers: h))
        if request.head.method != .HEAD { client.writeResponseBody(body) }
        client.writeResponseEnd(nil)
    }

    func clientWritabilityChanged(isWritable: Bool) {}
    func clientClosed() {}
}
