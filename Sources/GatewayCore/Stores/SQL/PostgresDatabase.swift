import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The store for many replicas: a PostgreSQL database reached through a small connection pool
/// (postgres-nio's `PostgresClient`, run by a task of its own until `close`).
package final class PostgresDatabase: SQLDatabase {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    package var dialect: SQLDialect { .postgres }

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.runner = Task { await client.run() }
    }

    /// Connects once directly first, so a wrong URL, a refused connection or a bad password
    /// fails at start-up in seconds with the reason (the pool would retry for a minute and
    /// then report only that it gave up); then starts the pool.
    package static func connect(_ url: PostgresURL, logger: Logger) async throws -> PostgresDatabase {
        var probe = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
            tls: try url.tls.connectionTLS)
        probe.options.connectTimeout = .seconds(5)
        try await explained {
            let connection = try await PostgresConnection.connect(configuration: probe, id: 0, logger: logger)
            try await connection.close()
        }
        var config = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: url.tls.clientTLS)
        config.options.minimumConnections = 0
        config.options.maximumConnections = 4
        config.options.connectTimeout = .seconds(5)
        // The pool's own log: errors only (it warns when a query races the start of `run()`,
        // which is harmless: the query waits for the pool).
        var poolLogger = logger
        poolLogger.logLevel = .error
        return PostgresDatabase(client: PostgresClient(configuration: config, backgroundLogger: poolLogger), logger: logger)
    }

    @discardableResult
    package func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await Self.explained { try await Self.collect(client.query(Self.statement(sql, binds), logger: logger)) }
    }

    /// postgres-nio hides the server's message from an error's description (it may hold
    /// data); ours hold none, and "PSQLError" alone helps no one.
    struct ServerError: Error, CustomStringConvertible {
        var description: String
    }

    static func explained<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let e as PSQLError {
            let server = e.serverInfo.map { info in
                [info[.sqlState], info[.message], info[.detail]].compactMap { $0 }.joined(separator: ": ")
            }
            let underlying = e.underlying.map { "\($0)" }
            throw ServerError(description: "PostgreSQL: " + (server ?? underlying.map { "\(e.code): \($0)" } ?? "\(e.code)"))
        }
    }

    package func transaction(_ body: @Sendable (any SQLDatabase) async throws -> Void) async throws {
        try await Self.explained {
            try await client.withTransaction(logger: logger) { connection in
                try await body(OnConnection(connection: connection, logger: logger))
            }
        }
    }

    package func close() async throws {
        runner.cancel()
        await runner.value
    }

    /// The statements of one transaction, on the connection that holds it.
    struct OnConnection: SQLDatabase {
        let connection: PostgresConnection
        let logger: Logger
        var dialect: SQLDialect { .postgres }

        @discardableResult
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await PostgresDatabase.explained {
                try await PostgresDatabase.collect(connection.query(PostgresDatabase.statement(sql, binds), logger: logger))
            }
        }

        func transaction(_ body: @Sendable (any SQLDatabase) async throws -> Void) async throws { try await body(self) }
        func close() async throws {}
    }

    /// Numbers the `?` placeholders (`$1`, `$2`, ...) outside quoted text, and binds the values.
    static func statement(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
        var text = ""
        text.reserveCapacity(sql.utf8.count + binds.count * 3)
        var n = 0, quoted = false
        for c in sql {
            if c == "'" { quoted.toggle() }
            if c == "?" && !quoted {
                n += 1
                text += "$\(n)"
            } else {
                text.append(c)
            }
        }
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .int(let i): bindings.append(i)
            case .text(let t): bindings.append(t)
            case .bytes(let b): bindings.append(ByteBuffer(bytes: b))
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: bindings)
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var out: [SQLRow] = []
        var names: [String]?
        for try await row in rows {
            var values: [SQLValue] = []
            if names == nil { names = row.map(\.columnName) }
            for cell in row { values.append(try value(cell)) }
            out.append(SQLRow(names: names!, values: values))
        }
        return out
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int8: return .int(try cell.decode(Int64.self))
        case .int4: return .int(Int64(try cell.decode(Int32.self)))
        case .int2: return .int(Int64(try cell.decode(Int16.self)))
        case .bool: return .int(try cell.decode(Bool.self) ? 1 : 0)
        case .bytea:
            var b = try cell.decode(ByteBuffer.self)
            return .bytes(b.readBytes(length: b.readableBytes) ?? [])
        case .numeric:
            // Sums of bigints; exact, as text.
            return .text("\(try cell.decode(Decimal.self))")
        default:
            return .text(try cell.decode(String.self))
        }
    }
}
