import Foundation
import Testing

@testable import GatewayCore

@Suite struct StoreLocationTests {
    @Test func sqliteAndPostgresURLsParse() throws {
        #expect(StoreLocation("sqlite:/var/lib/tg.db") == .sqlite(path: "/var/lib/tg.db"))
        #expect(StoreLocation("sqlite:") == nil)
        #expect(StoreLocation("mysql://db/x") == nil)
        guard case .postgres(let u)? = StoreLocation("postgres://gate%40corp:p%3Ass@db.internal:6432/ledger?sslmode=require") else {
            Issue.record("not parsed")
            return
        }
        #expect(u.host == "db.internal" && u.port == 6432 && u.user == "gate@corp" && u.password == "p:ss" && u.database == "ledger" && u.tls == .require)
        // libpq's defaults: port 5432, the user's name as the database, TLS when offered.
        guard case .postgres(let d)? = StoreLocation("postgresql://tg@localhost") else {
            Issue.record("not parsed")
            return
        }
        #expect(d.port == 5432 && d.database == "tg" && d.password == nil && d.tls == .prefer)
        #expect(StoreLocation("postgres://tg@localhost/x?sslmode=sometimes") == nil)
        #expect(StoreLocation("postgres://localhost/x") == nil)  // no user
        // Logs never show the password.
        #expect(StoreLocation("postgres://u:secret@h/d")!.description == "postgres://u@h:5432/d")
    }

    @Test func placeholdersAreNumberedOutsideQuotedText() {
        let q = PostgresDatabase.statement("SELECT '?' AS q, x FROM t WHERE a = ? AND b = 'it''s ?' AND c = ?", [.int(1), .text("b")])
        #expect(q.sql == "SELECT '?' AS q, x FROM t WHERE a = $1 AND b = 'it''s ?' AND c = $2")
        #expect(q.binds.count == 2)
    }
}

@Suite struct KeyStoreTests {
    @Test func keysAreCreatedListedRevokedAndOnlyDigestsKept() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try await KeyStore.open(.sqlite(path: path))
        let (record, key) = try await store.create(consumer: "web-app")
        #expect(key.hasPrefix("tg-") && record.consumer == "web-app")
        let entries = try await store.activeEntries()
        #expect(entries.map(\.digest) == [APIKey.hash(key)])
        #expect(try await store.revoke(id: record.id))
        #expect(try await !store.revoke(id: record.id))  // already revoked
        #expect(try await store.activeEntries().isEmpty)
        #expect(try await store.list().first?.revokedAt != nil)
        // Another connection to the same file sees a new token once this one has committed.
        let other = try await KeyStore.open(.sqlite(path: path))
        let before = try await other.changeToken()
        _ = try await store.create(consumer: "ops")
        #expect(try await other.changeToken() != before)
        try await other.close()
        try await store.close()
    }
}
