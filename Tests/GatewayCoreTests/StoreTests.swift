import Foundation
import Logging
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

@Suite struct SQLiteDatabaseTests {
    static func open() async throws -> (SQLiteDatabase, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-\(UUID().uuidString).db").path
        return (try await SQLiteDatabase.open(path: path, logger: Logger(label: "test")), path)
    }

    /// Any store's insert, the multi-row statements of `SQLDatabase`'s default: the SQLite
    /// store's own (prepared statements of `rowsPerStep` rows, then single rows) must leave the
    /// same table.
    struct DefaultInsert: SQLDatabase {
        let db: SQLiteDatabase
        var dialect: SQLDialect { db.dialect }
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] { try await db.query(sql, binds) }
        func transaction(_ body: @Sendable (any SQLDatabase) async throws -> Void) async throws {
            try await db.transaction { _ in try await body(self) }
        }
        func close() async throws { try await db.close() }
    }

    @Test func valuesRoundTripExactly() async throws {
        let (db, path) = try await Self.open()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await db.query("CREATE TABLE t (n INTEGER, s TEXT, b BLOB)")
        let rows: [[SQLValue]] = [
            [.int(.min), .text(""), .bytes([])],
            [.int(.max), .text("naïve ✓ \u{0}nul inside"), .bytes([0, 255, 7])],
            [.null, .null, .null],
            [.int(0), .text(String(repeating: "long text ", count: 500)), .bytes(Array(repeating: 9, count: 10_000))],
        ]
        try await db.insert(into: "t", columns: ["n", "s", "b"], values: rows.flatMap { $0 }, onConflict: nil)
        let back = try await db.query("SELECT n, s, b FROM t ORDER BY rowid")
        #expect(back.map(\.values) == rows)
        #expect(back.first?.names == ["n", "s", "b"])
        // The empty string stays a string and the empty blob a blob, not NULL.
        #expect(try await db.query("SELECT count(*) AS c FROM t WHERE s IS NULL")[0]["c"] == .int(1))
        // Enough rows for statements of many rows and single ones after them, each binding the
        // large values (more text and blob than one step bound before).
        let many = Array(repeating: rows, count: SQLiteDatabase.rowsPerStep / 2 + 3).flatMap { $0 }
        try await db.query("DELETE FROM t")
        try await db.insert(into: "t", columns: ["n", "s", "b"], values: many.flatMap { $0 }, onConflict: nil)
        #expect(try await db.query("SELECT n, s, b FROM t ORDER BY rowid").map(\.values) == many)
        try await db.close()
    }

    @Test func preparedStatementsAreReusedPastTheCacheBoundAndAfterErrors() async throws {
        let (db, path) = try await Self.open()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await db.query("CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        for i in 0..<(SQLiteConnection.cachedStatements * 2 + 5) {
            // The same statement with new values, and a new statement each round.
            try await db.query("INSERT INTO k (id, v) VALUES (?, ?)", [.int(Int64(i)), .text("v\(i)")])
            let one = try await db.query("SELECT v, \(i) AS n FROM k WHERE id = ?", [.int(Int64(i))])
            #expect(one.map(\.values) == [[.text("v\(i)"), .int(Int64(i))]])
        }
        // A failed step leaves its statement usable.
        await #expect(throws: SQLiteError.self) { try await db.query("INSERT INTO k (id, v) VALUES (?, ?)", [.int(0), .text("again")]) }
        try await db.query("INSERT INTO k (id, v) VALUES (?, ?)", [.int(-1), .text("after")])
        #expect(try await db.query("SELECT v FROM k WHERE id = -1")[0]["v"] == .text("after"))
        try await db.close()
    }

    @Test func errorsSayWhatAndWhere() async throws {
        let (db, path) = try await Self.open()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            try await db.query("SELEC 1")
            Issue.record("no error")
        } catch let e as SQLiteError {
            #expect(e.description.contains("syntax error") && e.description.contains("SELEC 1"))
        }
        do {
            try await db.query("SELECT ?, ?", [.int(1)])
            Issue.record("no error")
        } catch let e as SQLiteError {
            #expect(e.description.contains("takes 2 values, 1 given"))
        }
        #expect(try await db.query("SELECT 1 AS one")[0]["one"] == .int(1))
        try await db.close()
        await #expect(throws: SQLiteError.self) { try await db.query("SELECT 1") }
    }

    @Test func ownInsertMatchesTheMultiRowDefaultUpsertsIncluded() async throws {
        var tables: [[[SQLValue]]] = []
        for own in [true, false] {
            let (sqlite, path) = try await Self.open()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let db: any SQLDatabase = own ? sqlite : DefaultInsert(db: sqlite)
            try await db.query("CREATE TABLE s (k TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)")
            // 1,234 rows of 3: three multi-row statements for the default; keys repeat across
            // batches, never within one (as PostgreSQL requires of one statement).
            for batch in 0..<3 {
                var values: [SQLValue] = []
                for i in 0..<1234 { values += [.text("k\((i * 7 + batch) % 1500)"), .int(Int64(i)), batch == 1 ? .null : .text("b\(batch)")] }
                try await db.transaction { [values] tx in
                    try await tx.insert(into: "s", columns: ["k", "n", "note"], values: values,
                                        onConflict: "ON CONFLICT (k) DO UPDATE SET n = s.n + excluded.n, note = excluded.note")
                }
            }
            tables.append(try await db.query("SELECT k, n, note FROM s ORDER BY k").map(\.values))
            try await sqlite.close()
        }
        #expect(tables[0].count == 1500)
        #expect(tables[0] == tables[1])
    }
}
