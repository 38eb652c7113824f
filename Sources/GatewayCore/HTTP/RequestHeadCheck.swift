import NIOHTTP1

/// The checks every client request head passes before anything reads it: how its body is
/// framed (RFC 9112 §6), exactly one valid `Host` (§3.2), and a target in origin form (an
/// absolute-form target's authority replaces `Host`, §3.2.2).
///
/// Why here, once: a proxy that reads framing or `Host` one way while the upstream reads it
/// another is the whole of request smuggling and host confusion. What passes is what every
/// later step (routing, policies, the upstream head) sees; what is ambiguous is refused, and
/// the connection closed, because the rest of its bytes can no longer be trusted.
package enum RequestHeadCheck {
    /// How the request's body is delimited.
    package enum Framing: Equatable, Sendable {
        /// No body.
        case none
        /// `Content-Length` bytes.
        case length(Int)
        /// A body of unknown length: chunked on HTTP/1.1, DATA frames on HTTP/2. Forwarded
        /// chunked, whatever the method.
        case chunked
    }

    package enum Verdict: Equatable {
        /// `head` is the request as every later step must see it (the same head unless the
        /// target was in absolute form).
        case accept(HTTPRequestHead, Framing)
        case refuse(HTTPResponseStatus, String)
    }

    /// Content-Length values above this are refused: no real body is 2^53 bytes, and the
    /// bound keeps every sum over lengths far from overflow.
    package static let maxContentLength = 1 << 53

    /// Checks `head` as read from an HTTP/1.x connection or an HTTP/2 stream (where NIO's codec
    /// has turned `:authority` into `Host`, and a body of unknown length into
    /// `Transfer-Encoding: chunked`; see `HTTP2RequestHeadMarker`). A head whose request line
    /// and headers take more than `maxHeaderBytes` written out is refused with 431, counted in
    /// the same walk over the headers (each walk retains and releases every name and value).
    package static func check(_ head: HTTPRequestHead, isHTTP2: Bool, maxHeaderBytes: Int = .max) -> Verdict {
        var head = head
        if let first = head.uri.utf8.first, first != UInt8(ascii: "/") {
            if let (authority, path) = absoluteForm(head.uri) {
                // RFC 9112 §3.2.2: the target's authority wins over any Host line.
                head.uri = path
                head.headers.replaceOrAdd(name: "host", value: authority)
            } else if !(head.uri == "*" && head.method == .OPTIONS) {
                return .refuse(.badRequest, "Request target must be a path or an absolute URL")
            }
        } else if head.uri.isEmpty {
            return .refuse(.badRequest, "Empty request target")
        }

        var hosts = 0, host: String?
        var lengths = 0, length: Int?, badLength = false
        var codings = 0, chunkedLast = false, otherCoding = false
        var headBytes = head.uri.utf8.count + 16
        for (name, value) in head.headers {
            headBytes += name.utf8.count + value.utf8.count + 4
            guard let first = name.utf8.first else { continue }
            switch first | 0x20 {
            case UInt8(ascii: "h"):
                if ASCII.equalsIgnoringCase(name, "host") {
                    hosts += 1
                    host = value
                }
            case UInt8(ascii: "c"):
                guard ASCII.equalsIgnoringCase(name, "content-length") else { continue }
                // A list ("5, 5") is allowed only when every member is the same (§6.3 item 5).
                forEachMember(of: value) { member in
                    lengths += 1
                    guard let n = decimal(member) else {
                        badLength = true
                        return
                    }
                    if let length, length != n { badLength = true }
                    length = n
                }
            case UInt8(ascii: "t"):
                guard ASCII.equalsIgnoringCase(name, "transfer-encoding") else { continue }
                forEachMember(of: value) { coding in
                    if coding.isEmpty { return }
                    codings += 1
                    if chunkedLast { otherCoding = true }  // anything after chunked
                    chunkedLast = equalsIgnoringCase(coding, "chunked")
                    if !chunkedLast { otherCoding = true }
                }
                if codings == 0 { otherCoding = true }
            default:
                continue
            }
        }

        if headBytes > maxHeaderBytes { return .refuse(.requestHeaderFieldsTooLarge, "Request header fields too large") }
        let http10 = !isHTTP2 && head.version.major == 1 && head.version.minor == 0
        if hosts > 1 { return .refuse(.badRequest, "More than one Host header") }
        if hosts == 0, !http10, !isHTTP2 { return .refuse(.badRequest, "Missing Host header") }
        if let host, !isValidHost(host) { return .refuse(.badRequest, "Invalid Host header") }

        let framing: Framing
        if codings > 0 || otherCoding {
            if http10 { return .refuse(.badRequest, "Transfer-Encoding is not allowed in HTTP/1.0") }
            if lengths > 0 { return .refuse(.badRequest, "Both Content-Length and Transfer-Encoding") }
            if otherCoding || !chunkedLast { return .refuse(.notImplemented, "Unsupported transfer coding (only chunked)") }
            framing = .chunked
        } else if lengths > 0 {
            guard !badLength, let length else { return .refuse(.badRequest, "Invalid Content-Length") }
            framing = length == 0 ? .none : .length(length)
        } else {
            framing = .none
        }
        // RFC 9110 §9.3.8: a client must not send content in a TRACE request; one that does is
        // refused rather than forwarded with a body the upstream will not expect.
        if head.method == .TRACE, framing != .none { return .refuse(.badRequest, "TRACE request with a body") }
        return .accept(head, framing)
    }

    /// `http://host[:port]/path?query` (either scheme, any case) as its authority and its
    /// origin-form target (`/` when the path is empty). Nil for anything else, or an authority
    /// with user info (never sent by a client that means well).
    static func absoluteForm(_ uri: String) -> (authority: String, path: String)? {
        let bytes = Array(uri.utf8)
        let schemeEnd: Int
        if bytes.count > 7, equalsIgnoringCase(bytes[0..<7], "http://") {
            schemeEnd = 7
        } else if bytes.count > 8, equalsIgnoringCase(bytes[0..<8], "https://") {
            schemeEnd = 8
        } else {
            return nil
        }
        var end = schemeEnd
        while end < bytes.count, bytes[end] != UInt8(ascii: "/"), bytes[end] != UInt8(ascii: "?"), bytes[end] != UInt8(ascii: "#") {
            end += 1
        }
        let authority = String(decoding: bytes[schemeEnd..<end], as: UTF8.self)
        guard !authority.isEmpty, isValidHost(authority) else { return nil }
        var path = String(decoding: bytes[end...], as: UTF8.self)
        if path.isEmpty || path.first == "?" { path = "/" + path }
        return (authority, path)
    }

    /// A Host value is `host[:port]`: reg-name or IP-literal characters only (RFC 3986 §3.2.2).
    /// No `@` (user info), `/`, `\`, spaces or control bytes, which upstreams read differently.
    static func isValidHost(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { bytes in
            guard bytes.count > 0, bytes.count <= 255 else { return false }
            for byte in bytes {
                let bit = UInt64(1) << (byte & 63)
                switch byte >> 6 {
                case 0: if hostBytesLow & bit == 0 { return false }
                case 1: if hostBytesHigh & bit == 0 { return false }
                default: return false
                }
            }
            return true
        }
    }

    /// The bytes a Host value may have, as bit masks over 0–63 and 64–127: letters, digits and
    /// `-._~:[]%!$&'()*+,;=` (`hostBytes`). Literals, not computed on first use: a lazily
    /// initialized static is a `swift_once` call on every read, and every request reads them.
    static let hostBytesLow: UInt64 = 0x2FFF_7FF2_0000_0000
    static let hostBytesHigh: UInt64 = 0x47FF_FFFE_AFFF_FFFE
    static let hostBytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:[]%!$&'()*+,;="

    /// A decimal of 1 to 16 digits, at most `maxContentLength`.
    private static func decimal<C: Collection>(_ digits: C) -> Int? where C.Element == UInt8 {
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var n = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(d - UInt8(ascii: "0"))
        }
        return n <= maxContentLength ? n : nil
    }

    /// Each comma-separated member of a header value, trimmed of spaces and tabs (empty members
    /// included), read in place.
    private static func forEachMember(of value: String, _ body: (Slice<UnsafeBufferPointer<UInt8>>) -> Void) {
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            for k in 0...bytes.count where k == bytes.count || bytes[k] == UInt8(ascii: ",") {
                body(trimmed(bytes[start..<k]))
                start = k + 1
            }
        }
    }

    private static func trimmed<C: BidirectionalCollection>(_ bytes: C) -> C.SubSequence where C.Element == UInt8 {
        var s = bytes[...]
        while let f = s.first, f == UInt8(ascii: " ") || f == UInt8(ascii: "\t") { s = s.dropFirst() }
        while let l = s.last, l == UInt8(ascii: " ") || l == UInt8(ascii: "\t") { s = s.dropLast() }
        return s
    }

    private static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ lower: StaticString) -> Bool where C.Element == UInt8 {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        var i = 0
        for byte in bytes {
            let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != lower.utf8Start[i] { return false }
            i += 1
        }
        return true
    }
}
