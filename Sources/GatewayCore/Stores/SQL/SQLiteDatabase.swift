import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

/// The embedded store: one SQLite file in WAL mode, so gateways read while the CLI writes.
public final class SQLiteDatabase: SQLDatabase {
    let connection: SQLiteConnection
    public var dialect: SQLDialect { .sqlite }

    private init(connection: SQLiteConnection) { self.connection = connection }

    public static func open(path: String, logger: Logger) async throws -> SQLiteDatabase {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), threadPool: StoreThreads.pool, logger: logger,
                                                         on: MultiThreadedEventLoopGroup.singleton.any())
        _ = try await connection.query("PRAGMA journal_mode=WAL", [])
        // The busy timeout rides out other processes' brief write locks.
        _ = try await connection.query("PRAGMA busy_timeout=5000", [])
        // NORMAL is durable across a process crash in WAL mode (only an OS crash can lose the
        // last transactions), and it spares an fsync per commit.
        _ = try await connection.query("PRAGMA synchronous=NORMAL", [])
        return SQLiteDatabase(connection: connection)
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let rows = try await connection.query(sql, binds.map(Self.data))
        guard let first = rows.first else { return [] }
        let names = first.columns.map(\.name)
        return rows.map { row in SQLRow(names: names, values: row.columns.map { Self.value($0.data) }) }
    }

    /// One connection, so a transaction is BEGIN ... COMMIT on it; IMMEDIATE takes the write
    /// lock at the start rather than failing at the first write.
    public func transaction(_ body: @Sendable (any SQLDatabase) async throws -> Void) async throws {
        try await query("BEGIN IMMEDIATE")
        do {
            try await body(self)
            try await query("COMMIT")
        } catch {
            _ = try? await query("ROLLBACK")
            throw error
        }
    }

    public func close() async throws { try await connection.close() }

    static func data(_ value: SQLValue) -> SQLiteData {
        switch value {
        case .int(let i): return .integer(.init(i))
        case .text(let t): return .text(t)
        case .bytes(let b): return .blob(ByteBuffer(bytes: b))
        case .null: return .null
        }
    }

    static func value(_ data: SQLiteData) -> SQLValue {
        switch data {
        case .integer(let i): return .int(Int64(i))
        case .float(let f): return .int(Int64(f))
        case .text(let t): return .text(t)
        case .blob(var b): return .bytes(b.readBytes(length: b.readableBytes) ?? [])
        case .null: return .null
        }
    }
}
