import GatewayCore
import NIOHTTP1

/// Builds the heads that cross the proxy, in one pass over the headers each way.
package enum ForwardedHeaders {
    static let via = "1.1 triplegate"

    /// The request head sent upstream: hop-by-hop headers dropped, `X-Forwarded-*`, `Via` and
    /// `X-Request-Id` set, `Host` the target's unless the route preserves the client's.
    ///
    /// `Transfer-Encoding` is hop-by-hop, but the body it announced is not: a head that had one
    /// (checked by `RequestHeadCheck` to be exactly `chunked`) goes up as
    /// `Transfer-Encoding: chunked`, whatever the method, so the upstream reads the body as this
    /// request's and never as a request of its own.
    package static func upstreamRequest(
        _ head: HTTPRequestHead, uri: String, target: UpstreamURL, preserveHost: Bool,
        requestID: String, clientIP: String?, scheme: String
    ) -> HTTPRequestHead {
        let named = head.headers.contains(name: "connection") ? HopByHopHeaders.connectionTokens(head.headers) : []
        var out = HTTPHeaders()
        out.reserveCapacity(head.headers.count + 5)
        var forwardedFor: String?
        var via: String?
        var clientHost: String?
        var chunked = false
        for (name, value) in head.headers {
            if HopByHopHeaders.isHopByHop(name) {
                if ASCII.equalsIgnoringCase(name, "transfer-encoding") { chunked = true }
                continue
            }
            // Compared without lower-casing copies: this loop runs for every header of every request.
            if ASCII.equalsIgnoringCase(name, "host") { clientHost = value; continue }
            if ASCII.equalsIgnoringCase(name, "x-forwarded-for") { forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value; continue }
            if ASCII.equalsIgnoringCase(name, "via") { via = via.map { "\($0), \(value)" } ?? value; continue }
            if ASCII.equalsIgnoringCase(name, "x-forwarded-proto") || ASCII.equalsIgnoringCase(name, "x-forwarded-host")
                || ASCII.equalsIgnoringCase(name, "x-request-id") || ASCII.equalsIgnoringCase(name, "expect") { continue }
            if !named.isEmpty, named.contains(name.lowercased()) { continue }
            out.add(name: name, value: value)
        }
        out.add(name: "host", value: preserveHost ? (clientHost ?? target.hostForHeader) : target.hostForHeader)
        if let clientIP {
            out.add(name: "x-forwarded-for", value: forwardedFor.map { "\($0), \(clientIP)" } ?? clientIP)
        } else if let forwardedFor {
            out.add(name: "x-forwarded-for", value: forwardedFor)
        }
        out.add(name: "x-forwarded-proto", value: scheme)
        if let clientHost { out.add(name: "x-forwarded-host", value: clientHost) }
        out.add(name: "via", value: via.map { "\($0), \(Self.via)" } ?? Self.via)
        out.add(name: "x-request-id", value: requestID)
        if chunked { out.add(name: "transfer-encoding", value: "chunked") }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: out)
    }

    /// The response head sent to the client: hop-by-hop headers dropped, `Via` and the request
    /// id added. Framing (`Content-Length` or chunked) is left to the client connection's codec.
    static func downstreamResponse(_ head: HTTPResponseHead, requestID: String, close: Bool, isHTTP2: Bool) -> HTTPResponseHead {
        let named = head.headers.contains(name: "connection") ? HopByHopHeaders.connectionTokens(head.headers) : []
        var out = HTTPHeaders()
        out.reserveCapacity(head.headers.count + 3)
        var via: String?
        var hasRequestID = false
        for (name, value) in head.headers {
            if HopByHopHeaders.isHopByHop(name) { continue }
            if !named.isEmpty, named.contains(name.lowercased()) { continue }
            if ASCII.equalsIgnoringCase(name, "via") { via = via.map { "\($0), \(value)" } ?? value; continue }
            if ASCII.equalsIgnoringCase(name, "x-request-id") { hasRequestID = true }
            out.add(name: name, value: value)
        }
        out.add(name: "via", value: via.map { "\($0), \(Self.via)" } ?? Self.via)
        if !hasRequestID { out.add(name: "x-request-id", value: requestID) }
        if close, !isHTTP2 { out.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: .http1_1, status: head.status, headers: out)
    }
}
