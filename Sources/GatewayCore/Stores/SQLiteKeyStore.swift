import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

/// API keys in the embedded SQLite file: `keys create/list/revoke` write here, gateways read.
/// Only SHA-256 digests are stored.
public final class SQLiteKeyStore: Sendable {
    public struct Record: Sendable, Equatable {
        public var id: String
        public var consumer: String
        public var displayPrefix: String
        public var createdAt: Int
        public var revokedAt: Int?
    }

    let connection: SQLiteConnection
    let path: String

    private init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Opens (and creates, if new) the store at `path`.
    public static func open(path: String, logger: Logger = Logger(label: "triplegate.store")) async throws -> SQLiteKeyStore {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let store = SQLiteKeyStore(connection: connection, path: path)
        // WAL lets gateways read while the CLI writes; the busy timeout rides out the brief locks.
        _ = try await connection.query("PRAGMA journal_mode=WAL", [])
        _ = try await connection.query("PRAGMA busy_timeout=5000", [])
        _ = try await connection.query("""
            CREATE TABLE IF NOT EXISTS api_keys (
              id TEXT PRIMARY KEY,
              consumer TEXT NOT NULL,
              digest BLOB NOT NULL UNIQUE,
              display_prefix TEXT NOT NULL,
              created_at INTEGER NOT NULL,
              revoked_at INTEGER
            )
            """, [])
        return store
    }

    public func close() async throws { try await connection.close() }

    /// Makes a key for `consumer`; returns its record and the key itself, which is not kept.
    public func create(consumer: String, now: Date = Date()) async throws -> (Record, key: String) {
        let key = APIKey.generate()
        let id = "key_" + String(UInt64.random(in: .min ... .max), radix: 36)
        let record = Record(id: id, consumer: consumer, displayPrefix: APIKey.displayPrefix(key), createdAt: Int(now.timeIntervalSince1970), revokedAt: nil)
        _ = try await connection.query(
            "INSERT INTO api_keys (id, consumer, digest, display_prefix, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(id), .text(consumer), .blob(ByteBuffer(bytes: APIKey.hash(key))), .text(record.displayPrefix), .integer(record.createdAt)])
        return (record, key)
    }

    public func list() async throws -> [Record] {
        let rows = try await connection.query("SELECT id, consumer, display_prefix, created_at, revoked_at FROM api_keys ORDER BY created_at, id", [])
        return rows.map { row in
            Record(id: row.column("id")?.string ?? "", consumer: row.column("consumer")?.string ?? "",
                   displayPrefix: row.column("display_prefix")?.string ?? "", createdAt: row.column("created_at")?.integer ?? 0,
                   revokedAt: row.column("revoked_at")?.integer)
        }
    }

    /// Revokes a key by id; false when there is no such active key.
    public func revoke(id: String, now: Date = Date()) async throws -> Bool {
        let before = try await connection.query("SELECT id FROM api_keys WHERE id = ? AND revoked_at IS NULL", [.text(id)])
        guard !before.isEmpty else { return false }
        _ = try await connection.query("UPDATE api_keys SET revoked_at = ? WHERE id = ?", [.integer(Int(now.timeIntervalSince1970)), .text(id)])
        return true
    }

    /// The active keys, for the in-memory index.
    public func activeEntries() async throws -> [KeyIndex.Entry] {
        let rows = try await connection.query("SELECT id, consumer, digest FROM api_keys WHERE revoked_at IS NULL", [])
        return rows.compactMap { row in
            guard case .blob(var digest)? = row.column("digest"), let bytes = digest.readBytes(length: digest.readableBytes) else { return nil }
            return KeyIndex.Entry(id: row.column("id")?.string ?? "", consumer: row.column("consumer")?.string ?? "", digest: bytes)
        }
    }

    /// SQLite's `data_version`: changes whenever another connection commits to the file, so a
    /// poll costs one tiny query and the index reloads only when something changed.
    public func dataVersion() async throws -> Int {
        try await connection.query("PRAGMA data_version", []).first?.column("data_version")?.integer ?? 0
    }
}
