import NIOHTTP1

/// The credential of `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is
/// case-insensitive), shared by the authenticators that read it.
enum BearerToken {
    static func from(_ headers: HTTPHeaders) -> Substring? {
        guard let auth = headers.first(name: "authorization") else { return nil }
        let utf8 = auth.utf8
        guard utf8.count > 7 else { return nil }
        var i = utf8.startIndex
        for expected in "bearer ".utf8 {
            let c = utf8[i]
            let lower = c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
            guard lower == expected else { return nil }
            i = utf8.index(after: i)
        }
        var token = Substring(auth)[i...].drop { $0 == " " || $0 == "\t" }
        while let last = token.last, last == " " || last == "\t" { token = token.dropLast() }
        return token.isEmpty ? nil : token
    }
}
