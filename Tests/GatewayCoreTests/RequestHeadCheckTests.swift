@testable import GatewayCore
import NIOHTTP1
import Testing

/// What every client request head passes before routing: framing (RFC 9112 §6), one Host
/// (§3.2) and an origin-form target (§3.2.2).
@Suite struct RequestHeadCheckTests {
    func run(_ method: HTTPMethod, _ uri: String, _ version: HTTPVersion, _ headers: [(String, String)], _ http2: Bool) -> RequestHeadCheck.Verdict {
        RequestHeadCheck.check(HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers)), isHTTP2: http2)
    }
    func check(_ headers: [(String, String)]) -> RequestHeadCheck.Verdict { run(.POST, "/x", .http1_1, headers, false) }
    func check(_ method: HTTPMethod, _ headers: [(String, String)]) -> RequestHeadCheck.Verdict { run(method, "/x", .http1_1, headers, false) }
    func check(_ method: HTTPMethod, _ uri: String, _ headers: [(String, String)]) -> RequestHeadCheck.Verdict {
        run(method, uri, .http1_1, headers, false)
    }
    func check(version: HTTPVersion, _ headers: [(String, String)], http2: Bool = false) -> RequestHeadCheck.Verdict {
        run(.POST, "/x", version, headers, http2)
    }

    func framing(_ v: RequestHeadCheck.Verdict) -> RequestHeadCheck.Framing? {
        if case .accept(_, let f) = v { return f }
        return nil
    }

    func refusal(_ v: RequestHeadCheck.Verdict) -> UInt? {
        if case .refuse(let s, _) = v { return s.code }
        return nil
    }

    /// The request line and headers written out are counted in the check's one walk: at the
    /// bound they pass, one byte past it they are refused with 431.
    @Test func headsPastTheByteBoundAreRefusedWith431() {
        let headers = [("host", "a.example"), ("x-long", String(repeating: "v", count: 100))]
        let size = "/x".utf8.count + 16 + (4 + 9 + 4) + (6 + 100 + 4)
        func at(_ limit: Int) -> RequestHeadCheck.Verdict {
            RequestHeadCheck.check(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x", headers: HTTPHeaders(headers)), isHTTP2: false, maxHeaderBytes: limit)
        }
        #expect(refusal(at(size)) == nil)
        #expect(refusal(at(size - 1)) == 431)
    }

    /// The Host byte masks are the set they are documented as.
    @Test func hostByteMasksAreTheDocumentedSet() {
        var low: UInt64 = 0, high: UInt64 = 0
        for byte in RequestHeadCheck.hostBytes.utf8 {
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }
        #expect(low == RequestHeadCheck.hostBytesLow)
        #expect(high == RequestHeadCheck.hostBytesHigh)
    }

    @Test func framingIsReadOnceFromLengthOrChunked() {
        #expect(framing(check([("host", "h")])) == RequestHeadCheck.Framing.none)
        #expect(framing(check([("host", "h"), ("content-length", "0")])) == RequestHeadCheck.Framing.none)
        #expect(framing(check([("host", "h"), ("content-length", "12")])) == .length(12))
        #expect(framing(check([("host", "h"), ("content-length", "12, 12")])) == .length(12))
        #expect(framing(check([("host", "h"), ("content-length", "12"), ("content-length", "12")])) == .length(12))
        #expect(framing(check(.GET, [("host", "h"), ("transfer-encoding", "chunked")])) == .chunked)
        #expect(framing(check(.DELETE, [("host", "h"), ("Transfer-Encoding", " Chunked ")])) == .chunked)
    }

    @Test func ambiguousFramingIsRefused() {
        #expect(refusal(check([("host", "h"), ("content-length", "5"), ("transfer-encoding", "chunked")])) == 400)
        #expect(refusal(check([("host", "h"), ("content-length", "5, 6")])) == 400)
        #expect(refusal(check([("host", "h"), ("content-length", "5"), ("content-length", "6")])) == 400)
        for bad in ["-1", "+5", "0x10", "5 5", "", "99999999999999999", "1e3"] {
            #expect(refusal(check([("host", "h"), ("content-length", bad)])) == 400, "\(bad)")
        }
        #expect(refusal(check(version: .http1_0, [("transfer-encoding", "chunked")])) == 400)
        for te in ["gzip", "chunked, gzip", "gzip, chunked", "chunked, chunked", "identity", ""] {
            #expect(refusal(check([("host", "h"), ("transfer-encoding", te)])) != nil, "\(te)")
        }
        #expect(refusal(check(.TRACE, [("host", "h"), ("content-length", "3")])) == 400)
        #expect(framing(check(.TRACE, [("host", "h")])) == RequestHeadCheck.Framing.none)
    }

    @Test func exactlyOneValidHostOnHTTP11() {
        #expect(refusal(check([])) == 400)
        #expect(refusal(check([("host", "a"), ("host", "a")])) == 400)
        #expect(refusal(check([("host", "a b")])) == 400)
        #expect(refusal(check([("host", "u@h")])) == 400)
        #expect(refusal(check([("host", "")])) == 400)
        #expect(framing(check([("host", "[::1]:8080")])) != nil)
        #expect(framing(check(version: .http1_0, [])) != nil)
        #expect(framing(check(version: HTTPVersion(major: 2, minor: 0), [], http2: true)) != nil)
    }

    @Test func absoluteFormTargetsBecomeOriginFormWithTheirAuthority() {
        guard case .accept(let head, _) = check(.GET, "http://Example.com:81/a/b?q=1", [("host", "other"), ("host", "more")]) else {
            Issue.record("refused")
            return
        }
        #expect(head.uri == "/a/b?q=1")
        #expect(head.headers["host"] == ["Example.com:81"])
        if case .accept(let h, _) = check(.GET, "https://h", [("host", "h")]) { #expect(h.uri == "/") } else { Issue.record("refused") }
        if case .accept(let h, _) = check(.GET, "http://h?x", [("host", "h")]) { #expect(h.uri == "/?x") } else { Issue.record("refused") }
        #expect(refusal(check(.GET, "ftp://h/x", [("host", "h")])) == 400)
        #expect(refusal(check(.GET, "http://u@h/x", [("host", "h")])) == 400)
        #expect(refusal(check(.GET, "http:///x", [("host", "h")])) == 400)
        #expect(refusal(check(.GET, "x", [("host", "h")])) == 400)
        #expect(framing(check(.OPTIONS, "*", [("host", "h")])) != nil)
    }
}

/// RFC 3986 §6.2.2 normalization before matching.
@Suite struct PathNormalizerTests {
    func n(_ p: String, _ e: EscapedSlashes = .reject) -> String? { PathNormalizer.normalize(Substring(p), escapedSlashes: e).map(String.init) }

    @Test func unreservedEscapesAreDecodedAndOthersUpperCased() {
        #expect(n("/%61dmin") == "/admin")
        #expect(n("/%7Euser/%41-%5f") == "/~user/A-_")
        #expect(n("/a%3fb%2a") == "/a%3Fb%2A")
        #expect(n("/caf%c3%a9") == "/caf%C3%A9")
    }

    @Test func dotSegmentsAreResolvedAfterDecoding() {
        #expect(n("/a/../b") == "/b")
        #expect(n("/a/%2e%2e/b") == "/b")
        #expect(n("/a/.%2E/b") == "/b")
        #expect(n("/../../x") == "/x")
        #expect(n("/a/./b/.") == "/a/b/")
        #expect(n("//a///b/") == "/a/b/")
        #expect(n("/") == "/")
        #expect(n("/plain/path") == "/plain/path")
    }

    @Test func encodedSlashesFollowTheListenersChoice() {
        #expect(n("/a%2fb") == nil)
        #expect(n("/a%5Cb") == nil)
        #expect(n("/a%2fb", .keep) == "/a%2Fb")
        #expect(n("/a%2f..%2fb", .decode) == "/b")
        #expect(n("/a%2f..%2fb", .keep) == "/a%2F..%2Fb")
    }

    @Test func malformedEscapesAreRefused() {
        for p in ["/%", "/%4", "/%zz", "/%4g", "/a%00b"] { #expect(n(p) == nil, "\(p)") }
    }
}

/// Arithmetic on numbers from outside never traps.
@Suite struct SaturatingTests {
    @Test func boundsInsteadOfTraps() {
        #expect(Int64.max.addingSaturating(1) == .max)
        #expect(Int64.min.addingSaturating(-1) == .min)
        #expect(Int64.max.multipliedSaturating(by: 2) == .max)
        #expect(Int64.max.multipliedSaturating(by: -2) == .min)
        #expect(Int64.min.subtractingSaturating(1) == .min)
        #expect(Int64(0).subtractingSaturating(.min) == .max)
        #expect(Int64(6).multipliedSaturating(by: 7) == 42)
    }
}
