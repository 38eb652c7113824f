import NIOHTTP1

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1): a proxy never
/// forwards them, nor any header that `Connection` names.
package enum HopByHopHeaders {
    /// Lower-case names. `TE` is among them; gRPC's `te: trailers` only means something on h2.
    package static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "proxy-authenticate", "proxy-authorization",
    ]

    /// Whether `name` (any case) is hop-by-hop by itself.
    @inline(__always)
    package static func isHopByHop(_ name: String) -> Bool {
        // Fast reject: every hop-by-hop name starts with c, k, p, t or u.
        guard let first = name.utf8.first else { return false }
        switch first | 0x20 {
        case UInt8(ascii: "c"): return ASCII.equalsIgnoringCase(name, "connection")
        case UInt8(ascii: "k"): return ASCII.equalsIgnoringCase(name, "keep-alive")
        case UInt8(ascii: "p"):
            return ASCII.equalsIgnoringCase(name, "proxy-connection") || ASCII.equalsIgnoringCase(name, "proxy-authenticate")
                || ASCII.equalsIgnoringCase(name, "proxy-authorization")
        case UInt8(ascii: "t"):
            return ASCII.equalsIgnoringCase(name, "te") || ASCII.equalsIgnoringCase(name, "trailer") || ASCII.equalsIgnoringCase(name, "transfer-encoding")
        case UInt8(ascii: "u"): return ASCII.equalsIgnoringCase(name, "upgrade")
        default: return false
        }
    }

    /// The names a `Connection` header lists (lower-cased), besides keep-alive/close.
    package static func connectionTokens(_ headers: HTTPHeaders) -> Set<String> {
        var out = Set<String>()
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                let t = token.trimmingSpaces().lowercased()
                if !t.isEmpty, t != "close", t != "keep-alive" { out.insert(t) }
            }
        }
        return out
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
