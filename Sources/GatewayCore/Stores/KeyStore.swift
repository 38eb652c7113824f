import Foundation
import Logging

/// API keys in the config's store (SQLite or PostgreSQL): `keys create/list/revoke` write
/// here, gateways read. Only SHA-256 digests are stored.
package final class KeyStore: Sendable {
    package struct Record: Sendable, Equatable {
        package var id: String
        package var consumer: String
        package var displayPrefix: String
        package var createdAt: Int
        package var revokedAt: Int?
    }

    let db: any SQLDatabase

    private init(db: any SQLDatabase) { self.db = db }

    /// Opens the store (creating the table if new).
    package static func open(_ location: StoreLocation, logger: Logger = Logger(label: "triplegate.store")) async throws -> KeyStore {
        try await open(openDatabase(location, logger: logger))
    }

    package static func open(_ db: any SQLDatabase) async throws -> KeyStore {
        try await db.query("""
            CREATE TABLE IF NOT EXISTS api_keys (
              id TEXT PRIMARY KEY,
              consumer TEXT NOT NULL,
              digest \(db.dialect.bytes) NOT NULL UNIQUE,
              display_prefix TEXT NOT NULL,
              created_at \(db.dialect.bigint) NOT NULL,
              revoked_at \(db.dialect.bigint)
            )
            """)
        return KeyStore(db: db)
    }

    package func close() async throws { try await db.close() }

    /// Makes a key for `consumer`; returns its record and the key itself, which is not kept.
    package func create(consumer: String, now: Date = Date()) async throws -> (Record, key: String) {
        let key = APIKey.generate()
        let id = "key_" + String(UInt64.random(in: .min ... .max), radix: 36)
        let record = Record(id: id, consumer: consumer, displayPrefix: APIKey.displayPrefix(key), createdAt: Int(now.timeIntervalSince1970), revokedAt: nil)
        try await db.query(
            "INSERT INTO api_keys (id, consumer, digest, display_prefix, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(id), .text(consumer), .bytes(APIKey.hash(key)), .text(record.displayPrefix), .int(Int64(record.createdAt))])
        return (record, key)
    }

    package func list() async throws -> [Record] {
        try await db.query("SELECT id, consumer, display_prefix, created_at, revoked_at FROM api_keys ORDER BY created_at, id").map { row in
            Record(id: row["id"].text ?? "", consumer: row["consumer"].text ?? "", displayPrefix: row["display_prefix"].text ?? "",
                   createdAt: Int(row["created_at"].int ?? 0), revokedAt: row["revoked_at"].int.map { Int($0) })
        }
    }

    /// Revokes a key by id; false when there is no such active key.
    package func revoke(id: String, now: Date = Date()) async throws -> Bool {
        let revoked = try await db.query(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id",
            [.int(Int64(now.timeIntervalSince1970)), .text(id)])
        return !revoked.isEmpty
    }

    /// The active keys, for the in-memory index.
    package func activeEntries() async throws -> [KeyIndex.Entry] {
        try await db.query("SELECT id, consumer, digest FROM api_keys WHERE revoked_at IS NULL").compactMap { row in
            guard case .bytes(let digest) = row["digest"] else { return nil }
            return KeyIndex.Entry(id: row["id"].text ?? "", consumer: row["consumer"].text ?? "", digest: digest)
        }
    }

    /// Changes whenever keys were created or revoked since the last look, so a poll costs one
    /// tiny query and the index reloads only when something changed. SQLite: its
    /// `data_version` (moves when another connection commits to the file); PostgreSQL: the
    /// number of keys and of revoked keys, which every create and revoke moves.
    package func changeToken() async throws -> String {
        switch db.dialect {
        case .sqlite:
            return try await db.query("PRAGMA data_version").first?["data_version"].text ?? ""
        case .postgres:
            let row = try await db.query("SELECT COUNT(*) AS keys, COUNT(revoked_at) AS revoked FROM api_keys").first
            return "\(row?["keys"].text ?? ""):\(row?["revoked"].text ?? "")"
        }
    }
}
