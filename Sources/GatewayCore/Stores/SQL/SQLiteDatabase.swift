import Logging
import NIOConcurrencyHelpers
import NIOPosix
// SQLite itself, as sqlite-nio builds it: its C target (every symbol prefixed `sqlite_nio_`),
// reached through the SQLiteNIO product this target depends on. The store calls the C API
// directly because SQLiteNIO prepares every statement anew and keeps none: the ledger's batches
// spent more time compiling their INSERTs than writing the rows. See `SQLiteConnection`.
import VaporCSQLite

/// The embedded store: one SQLite file in WAL mode, so gateways read while the CLI writes.
/// Statements run on the store's threads (`StoreThreads`), never on an event loop.
package final class SQLiteDatabase: SQLDatabase {
    let connection: SQLiteConnection
    package var dialect: SQLDialect { .sqlite }

    private init(connection: SQLiteConnection) { self.connection = connection }

    package static func open(path: String, logger: Logger) async throws -> SQLiteDatabase {
        let connection = try await StoreThreads.pool.runIfActive { try SQLiteConnection(path: path) }
        let db = SQLiteDatabase(connection: connection)
        try await db.query("PRAGMA journal_mode=WAL")
        // NORMAL is durable across a process crash in WAL mode (only an OS crash can lose the
        // last transactions), and it spares an fsync per commit.
        try await db.query("PRAGMA synchronous=NORMAL")
        // A small page cache (256 KiB, SQLite's default is 2 MiB): the writers append, so only
        // the pages at the tree's right edge are hot, and a page buffer reused from a small
        // cache is still in the core's own cache, where one from a large cache was evicted long
        // ago. Reports scan, reading through the OS's cache. Measured in pairs: about 1% less
        // CPU per metered call.
        try await db.query("PRAGMA cache_size=-256")
        return db
    }

    @discardableResult
    package func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let connection = self.connection
        return try await StoreThreads.pool.runIfActive { try connection.run(sql, binds) }
    }

    package func insert(into table: String, columns: [String], values: [SQLValue], onConflict: String?) async throws {
        precondition(!columns.isEmpty && values.count % columns.count == 0, "\(values.count) values are not rows of \(columns.count)")
        try await insert(into: table, columns: columns, rows: SQLValueRows(values: values, width: columns.count), onConflict: onConflict)
    }

    /// Prepared statements of `rowsPerStep` rows, stepped once per group, then a single-row one
    /// for the rest, all in one job on a store thread: nothing is parsed per call, each step
    /// writes many rows, and the cache holds two statements per table. Values are bound as the
    /// rows write them.
    package func insert(into table: String, columns: [String], rows: some SQLRowSource, onConflict: String?) async throws {
        guard rows.count > 0 else { return }
        let suffix = onConflict.map { " " + $0 } ?? ""
        let perStep = max(1, min(Self.rowsPerStep, 1_000 / max(1, columns.count)))
        let many = rows.count >= perStep ? insertSQL(table: table, columns: columns, rows: perStep) + suffix : nil
        let one = insertSQL(table: table, columns: columns, rows: 1) + suffix
        let connection = self.connection
        try await StoreThreads.pool.runIfActive {
            try connection.runEach(many: many.map { ($0, perStep) }, one: one, rows: rows)
        }
    }

    /// Rows one insert statement writes: one step's fixed cost (resetting, binding, the
    /// statement's journal) is shared by this many rows. Fewer for wide tables: a statement
    /// binds at most 1,000 values, so the cached statements stay small.
    static let rowsPerStep = 32

    /// One connection, so a transaction is BEGIN ... COMMIT on it; IMMEDIATE takes the write
    /// lock at the start rather than failing at the first write.
    package func transaction(_ body: @Sendable (any SQLDatabase) async throws -> Void) async throws {
        try await query("BEGIN IMMEDIATE")
        do {
            try await body(self)
            try await query("COMMIT")
        } catch {
            _ = try? await query("ROLLBACK")
            throw error
        }
    }

    package func close() async throws {
        let connection = self.connection
        try await StoreThreads.pool.runIfActive { connection.close() }
    }
}

/// An error SQLite returned, with its message and the statement it came from.
package struct SQLiteError: Error, CustomStringConvertible {
    package var code: Int32
    package var message: String
    package var sql: String?

    package var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " (in \($0.count > 200 ? $0.prefix(200) + "..." : $0))" } ?? "")
    }
}

/// One `sqlite3` connection and its prepared statements, kept by SQL text (a statement cache,
/// as drivers of every other database have): a statement is compiled the first time it runs
/// and reused after. Each call holds the connection's lock from the first bind to the last
/// row, so two store threads never interleave on one statement.
final class SQLiteConnection: @unchecked Sendable {
    /// Statements kept at most; past it the cache starts over (report queries vary by grouping).
    static let cachedStatements = 64
    private let lock = NIOLock()
    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    /// The text and blobs of the values being bound, copied here and bound in place
    /// (`SQLITE_STATIC`): SQLite would otherwise allocate and copy each one itself. Kept, and
    /// grown before a bind when one before it did not fit; a statement's bindings point into
    /// it until its next bind.
    private var arena = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    /// The most text and blob bytes one bind has had: what the arena grows to.
    private var arenaWanted = 0

    /// SQLite's one-time set-up, done before the first connection (two threads opening the
    /// first connections at once would race on its global configuration otherwise).
    private static let initialized = sqlite_nio_sqlite3_initialize()

    init(path: String) throws {
        _ = Self.initialized
        var db: OpaquePointer?
        // NOMUTEX: the connection's lock already keeps each call to one thread at a time, and SQLite's
        // own mutex around every bind was a tenth of the ledger's cost per row.
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let rc = sqlite_nio_sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "out of memory"
            sqlite_nio_sqlite3_close(db)
            throw SQLiteError(code: rc, message: "cannot open \(path): \(message)")
        }
        // Rides out other processes' brief write locks (the CLI, another gateway).
        sqlite_nio_sqlite3_busy_timeout(db, 5000)
        self.db = db
    }

    deinit { close() }

    func close() {
        lock.withLock {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
            statements.removeAll()
            if let db { sqlite_nio_sqlite3_close_v2(db) }
            db = nil
            arena.deallocate()
            arena = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        }
    }

    /// Runs one statement and returns its rows.
    func run(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        try lock.withLock {
            let statement = try prepared(sql)
            defer { sqlite_nio_sqlite3_reset(statement) }
            try bind(statement, sql: sql) { binder in
                for value in binds { binder.value(value) }
            }
            var rows: [SQLRow] = []
            var names: [String]?
            while true {
                switch sqlite_nio_sqlite3_step(statement) {
                case SQLITE_ROW:
                    let count = sqlite_nio_sqlite3_column_count(statement)
                    let columns = names ?? (0..<count).map { String(cString: sqlite_nio_sqlite3_column_name(statement, $0)) }
                    names = columns
                    rows.append(SQLRow(names: columns, values: (0..<count).map { Self.value(statement, column: $0) }))
                case SQLITE_DONE:
                    return rows
                case let rc:
                    throw error(rc, sql: sql)
                }
            }
        }
    }

    /// Inserts `rows`: `many` (a statement of `rows` rows) while enough are left, then `one`
    /// (a single-row statement) for the rest, holding the lock throughout.
    func runEach(many: (sql: String, rows: Int)?, one: String, rows: some SQLRowSource) throws {
        try lock.withLock {
            var next = 0
            for (sql, perStep) in [many, (one, 1)].compactMap({ $0 }) {
                let statement = try prepared(sql)
                defer { sqlite_nio_sqlite3_reset(statement) }
                while rows.count - next >= perStep {
                    try bind(statement, sql: sql) { binder in
                        for row in next..<(next + perStep) { rows.write(row, to: &binder) }
                    }
                    let rc = sqlite_nio_sqlite3_step(statement)
                    guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw error(rc, sql: sql) }
                    sqlite_nio_sqlite3_reset(statement)
                    next += perStep
                }
            }
        }
    }

    /// The cached statement for `sql`, compiled now if new. Called with the lock held.
    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        guard let db else { throw SQLiteError(code: SQLITE_MISUSE, message: "the database is closed", sql: sql) }
        if statements.count >= Self.cachedStatements {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
            statements.removeAll(keepingCapacity: true)
        }
        var statement: OpaquePointer?
        let rc = sqlite_nio_sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, sql: sql) }
        statements[sql] = statement
        return statement
    }

    /// Binds what `write` writes to `statement`'s parameters, in order, and checks it bound
    /// them all. Called with the lock held.
    private func bind(_ statement: OpaquePointer, sql: String, _ write: (inout SQLiteBinder) -> Void) throws {
        guard db != nil else { throw SQLiteError(code: SQLITE_MISUSE, message: "the database is closed", sql: sql) }
        // Values that did not fit last time were bound as SQLite's own copies; grown now, with
        // no step running on the old arena.
        if arenaWanted > arena.count { growArena(to: arenaWanted) }
        var binder = SQLiteBinder(statement: statement, arena: arena)
        write(&binder)
        arenaWanted = max(arenaWanted, binder.wanted)
        guard binder.rc == SQLITE_OK else { throw error(binder.rc, sql: sql) }
        let expected = sqlite_nio_sqlite3_bind_parameter_count(statement), given = binder.parameter - 1
        guard given == expected else {
            throw SQLiteError(code: SQLITE_RANGE, message: "the statement takes \(expected) values, \(given) given", sql: sql)
        }
    }

    /// A larger arena. No statement is left bound to the old one.
    private func growArena(to bytes: Int) {
        for statement in statements.values { sqlite_nio_sqlite3_clear_bindings(statement) }
        let size = max(bytes, arena.count * 2)
        arena.deallocate()
        arena = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
    }

    private static func value(_ statement: OpaquePointer, column: Int32) -> SQLValue {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER:
            return .int(sqlite_nio_sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT:
            return .int(Int64(sqlite_nio_sqlite3_column_double(statement, column)))
        case SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            guard count > 0, let blob = sqlite_nio_sqlite3_column_blob(statement, column) else { return .bytes([]) }
            return .bytes(Array(UnsafeRawBufferPointer(start: blob, count: count)))
        default:
            return .null
        }
    }

    private func error(_ rc: Int32, sql: String) -> SQLiteError {
        let message = db.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "error \(rc)"
        return SQLiteError(code: rc, message: message, sql: sql)
    }
}

/// Binds values to a statement's parameters in order. Text and blobs are copied into the
/// connection's arena and bound in place (`SQLITE_STATIC`) while it has room, else bound as
/// SQLite's own copy (`SQLITE_TRANSIENT`); `wanted` tells the connection how much room the
/// step would have used. The first error is kept in `rc`.
struct SQLiteBinder: SQLRowWriter {
    let statement: OpaquePointer
    let arena: UnsafeMutableRawBufferPointer
    private var used = 0
    private(set) var wanted = 0
    private(set) var parameter: Int32 = 1
    private(set) var rc = SQLITE_OK

    init(statement: OpaquePointer, arena: UnsafeMutableRawBufferPointer) {
        self.statement = statement
        self.arena = arena
    }

    mutating func int(_ value: Int64) { bound(sqlite_nio_sqlite3_bind_int64(statement, parameter, value)) }

    mutating func null() { bound(sqlite_nio_sqlite3_bind_null(statement, parameter)) }

    mutating func text(_ value: String) {
        let count = value.utf8.count
        // A non-null pointer with a length of 0 binds the empty text (a null one, NULL); empty
        // text always fits, so it is always bound from the arena.
        if let start = place(count, { start in
            let copied = value.utf8.withContiguousStorageIfAvailable { bytes in
                if let from = bytes.baseAddress { start.copyMemory(from: from, byteCount: bytes.count) }
                return true
            }
            if copied == nil { _ = UnsafeMutableRawBufferPointer(start: start, count: count).initializeMemory(as: UInt8.self, from: value.utf8) }
        }) {
            bound(sqlite_nio_sqlite3_bind_text64(statement, parameter, start.assumingMemoryBound(to: CChar.self), UInt64(count), nil, UInt8(SQLITE_UTF8)))
        } else {
            var value = value
            bound(value.withUTF8 { utf8 in
                let text = UnsafeRawPointer(utf8.baseAddress)?.assumingMemoryBound(to: CChar.self)
                return sqlite_nio_sqlite3_bind_text64(statement, parameter, text, UInt64(utf8.count), transient, UInt8(SQLITE_UTF8))
            })
        }
    }

    mutating func bytes(_ value: [UInt8]) {
        if let start = place(value.count, { UnsafeMutableRawBufferPointer(start: $0, count: value.count).copyBytes(from: value) }) {
            bound(sqlite_nio_sqlite3_bind_blob64(statement, parameter, start, UInt64(value.count), nil))
        } else {
            bound(value.withUnsafeBytes { sqlite_nio_sqlite3_bind_blob64(statement, parameter, $0.baseAddress, UInt64($0.count), transient) })
        }
    }

    /// The arena's next `count` bytes, filled by `fill`; nil when the arena has no room left
    /// (the value is then bound as SQLite's copy). Counts toward `wanted` either way.
    private mutating func place(_ count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) -> UnsafeMutableRawPointer? {
        wanted += count
        guard let base = arena.baseAddress, used + count <= arena.count else { return nil }
        let start = base + used
        fill(start)
        used += count
        return start
    }

    private mutating func bound(_ code: Int32) {
        if rc == SQLITE_OK { rc = code }
        parameter += 1
    }
}

/// SQLite copies a value bound with this destructor before the bind returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
