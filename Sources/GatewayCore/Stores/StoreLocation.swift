import Foundation
import NIOSSL
import PostgresNIO

/// The config's `store:`: the embedded SQLite file (`sqlite:PATH`, the default) or a
/// PostgreSQL database (`postgres://user:password@host:5432/db?sslmode=...`) shared by replicas.
package enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresURL)

    package init?(_ spec: String) {
        if spec.hasPrefix("sqlite:") {
            let path = String(spec.dropFirst("sqlite:".count))
            guard !path.isEmpty else { return nil }
            self = .sqlite(path: path)
        } else if let url = PostgresURL(spec) {
            self = .postgres(url)
        } else {
            return nil
        }
    }

    /// For logs: the password never appears.
    package var description: String {
        switch self {
        case .sqlite(let path): return "sqlite:\(path)"
        case .postgres(let u): return "postgres://\(u.user)@\(u.host):\(u.port)/\(u.database ?? "")"
        }
    }
}

/// A libpq-style connection URL: `postgres://` or `postgresql://`, user and password
/// percent-decoded, port 5432 by default, database defaulting to the user's name, and
/// `sslmode` disable, prefer (the default: TLS when the server offers it), require (TLS,
/// certificate not checked, as libpq) or verify-full (TLS, certificate and host name checked).
package struct PostgresURL: Sendable, Equatable {
    package enum TLSMode: String, Sendable { case disable, prefer, require, verifyFull = "verify-full" }

    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String?
    package var tls: TLSMode

    package init?(_ text: String) {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let c = URLComponents(string: text),
              let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty else { return nil }
        self.host = host
        self.port = c.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        self.password = c.password.map { $0.removingPercentEncoding ?? $0 }
        let db = String(c.path.drop(while: { $0 == "/" }))
        self.database = db.isEmpty ? user : db
        let mode = c.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else { return nil }
        self.tls = tls
    }
}

extension PostgresURL.TLSMode {
    /// The TLS settings, nil for `disable`.
    private var settings: TLSConfiguration? {
        switch self {
        case .disable: return nil
        case .prefer, .require:
            var c = TLSConfiguration.makeClientConfiguration()
            c.certificateVerification = .none
            return c
        case .verifyFull: return .makeClientConfiguration()
        }
    }

    var clientTLS: PostgresClient.Configuration.TLS {
        guard let c = settings else { return .disable }
        return self == .prefer ? .prefer(c) : .require(c)
    }

    var connectionTLS: PostgresConnection.Configuration.TLS {
        get throws {
            guard let c = settings else { return .disable }
            let context = try NIOSSLContext(configuration: c)
            return self == .prefer ? .prefer(context) : .require(context)
        }
    }
}
