/// Where Redis is and how to log in: `redis://[user[:password]@]host[:port][/db]`, or
/// `rediss://` for TLS (the forms redis-cli and every client library take).
///
/// Parsed strictly: before, `redis://:secret@host` was read as the host `:secret@host`, which
/// leaked the password into a log line and a DNS lookup, and every shared limit silently became
/// per-process. Anything this does not parse is a config error.
package struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: Int
    package var user: String?
    package var password: String?
    package var database: Int
    package var tls: Bool

    package init(host: String, port: Int = 6379, user: String? = nil, password: String? = nil, database: Int = 0, tls: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Nil for anything but the form above: another scheme, a query or fragment, a database that
    /// is not 0 to 15999, an empty host, or a port out of range.
    package init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("redis://") {
            tls = false
            rest = text.dropFirst("redis://".count)
        } else if text.hasPrefix("rediss://") {
            tls = true
            rest = text.dropFirst("rediss://".count)
        } else {
            return nil
        }
        guard !rest.contains("?"), !rest.contains("#") else { return nil }
        var authority = rest
        database = 0
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard db.allSatisfy(\.isASCII), let n = Int(db), (0..<16_000).contains(n), db.first != "+" else { return nil }
                database = n
            }
        }
        user = nil
        password = nil
        // The user info ends at the last `@`: a password may contain one only percent-encoded,
        // but a host never does.
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = info.firstIndex(of: ":") {
                let u = info[..<colon], p = info[info.index(after: colon)...]
                guard let decodedUser = String(u).removingPercentEncoding, let decodedPassword = String(p).removingPercentEncoding else { return nil }
                user = decodedUser.isEmpty ? nil : decodedUser
                password = decodedPassword
            } else {
                // `redis://secret@host`: redis-cli reads a lone user info as the password.
                guard let decoded = String(info).removingPercentEncoding else { return nil }
                password = decoded
            }
        }
        guard !authority.contains("@"), let hp = HostPort.parse(String(authority), defaultPort: 6379), hp.port > 0 else { return nil }
        host = hp.host
        port = hp.port
    }

    /// The URL with its password replaced, for logs and the effective config.
    package var description: String {
        var out = tls ? "rediss://" : "redis://"
        if user != nil || password != nil {
            out += user ?? ""
            if password != nil { out += ":[redacted]" }
            out += "@"
        }
        out += host.contains(":") ? "[\(host)]" : host
        out += ":\(port)"
        if database != 0 { out += "/\(database)" }
        return out
    }

    /// The commands that log in and pick the database, sent first on every new connection.
    var handshake: [[String]] {
        var out: [[String]] = []
        if let password { out.append(user.map { ["AUTH", $0, password] } ?? ["AUTH", password]) }
        if database != 0 { out.append(["SELECT", String(database)]) }
        return out
    }
}
