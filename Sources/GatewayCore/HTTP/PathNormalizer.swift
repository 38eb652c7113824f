/// What a listener does with `%2F` and `%5C` (an encoded slash or backslash) in a request path.
package enum EscapedSlashes: String, Sendable, CaseIterable {
    /// Refuse the request with 400. The default: an upstream that decodes them (Starlette,
    /// many Java servers) would read `/admin%2Fsecret` as `/admin/secret`, a path no route
    /// matched.
    case reject
    /// Leave them encoded: they are not separators for matching, and go upstream as sent.
    case keep
    /// Decode them before matching: `/a%2Fb` is matched and forwarded as `/a/b`.
    case decode
}

/// Path normalization before matching, so that what a route matched is what the upstream
/// receives: `/public/../admin`, `/%61dmin` and `/admin%2fsecret` can never match `/public`
/// or skip `/admin`'s policies.
///
/// RFC 3986 §6.2.2: percent-encoded unreserved characters are decoded, other escapes get
/// upper-case hex, and `.` and `..` segments are removed (§5.2.4, after decoding, so `%2e%2e`
/// counts); repeated slashes are collapsed. Encoded slashes and backslashes follow
/// `EscapedSlashes`; an escape that is not `%` and two hex digits, or encodes NUL, is refused.
package enum PathNormalizer {
    /// The normalized path, or nil when the request must be refused (400). Returns the input
    /// unchanged in the common case, without allocating.
    /// Whether `bytes` has an escape, a dot segment's start (`/.`) or a repeated slash: one
    /// pass, and for most paths the only work done.
    private static func needsWork<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "%") { return true }
            if previous == UInt8(ascii: "/"), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") { return true }
            previous = byte
        }
        return false
    }

    package static func normalize(_ path: Substring, escapedSlashes: EscapedSlashes = .reject) -> Substring? {
        let bytes = path.utf8
        guard bytes.withContiguousStorageIfAvailable(needsWork) ?? needsWork(bytes) else { return path }
        guard let decoded = decodeUnreserved(bytes, escapedSlashes: escapedSlashes) else { return nil }
        var out: [ArraySlice<UInt8>] = []
        for segment in decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if segment.elementsEqual([UInt8(ascii: ".")]) { continue }
            if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                _ = out.popLast()
                continue
            }
            out.append(segment)
        }
        var result: [UInt8] = [UInt8(ascii: "/")]
        result.reserveCapacity(decoded.count + 1)
        for (i, segment) in out.enumerated() {
            if i > 0 { result.append(UInt8(ascii: "/")) }
            result.append(contentsOf: segment)
        }
        if decoded.last == UInt8(ascii: "/") || endsInDotSegment(decoded), !out.isEmpty { result.append(UInt8(ascii: "/")) }
        return Substring(String(decoding: result, as: UTF8.self))
    }

    /// A path ending in `/.` or `/..` names a directory (RFC 3986 §5.2.4 leaves the slash).
    private static func endsInDotSegment(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes.last == UInt8(ascii: ".")
            && (bytes[bytes.count - 2] == UInt8(ascii: "/")
                || (bytes.count >= 3 && bytes[bytes.count - 2] == UInt8(ascii: ".") && bytes[bytes.count - 3] == UInt8(ascii: "/")))
    }

    private static func decodeUnreserved(_ bytes: Substring.UTF8View, escapedSlashes: EscapedSlashes) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let byte = bytes[i]
            i = bytes.index(after: i)
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                continue
            }
            guard i != bytes.endIndex, let high = ASCII.hexDigitValue(bytes[i]) else { return nil }
            let j = bytes.index(after: i)
            guard j != bytes.endIndex, let low = ASCII.hexDigitValue(bytes[j]) else { return nil }
            i = bytes.index(after: j)
            let value = high << 4 | low
            if isUnreserved(value) {
                out.append(value)
            } else if value == UInt8(ascii: "/") || value == UInt8(ascii: "\\") {
                switch escapedSlashes {
                case .reject: return nil
                case .decode: out.append(value)
                case .keep: appendEscape(value, to: &out)
                }
            } else if value == 0 {
                return nil
            } else {
                appendEscape(value, to: &out)
            }
        }
        return out
    }

    private static func appendEscape(_ value: UInt8, to out: inout [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        out.append(UInt8(ascii: "%"))
        out.append(hex[Int(value >> 4)])
        out.append(hex[Int(value & 0xF)])
    }

    private static func isUnreserved(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
