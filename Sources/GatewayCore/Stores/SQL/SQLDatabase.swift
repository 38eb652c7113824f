import Logging

/// A value bound to, or read from, a SQL statement: the few types the stores use, the same on
/// SQLite and PostgreSQL, so every query is written once.
package enum SQLValue: Sendable, Equatable {
    case int(Int64)
    case text(String)
    case bytes([UInt8])
    case null

    package var int: Int64? {
        switch self {
        case .int(let i): return i
        case .text(let t): return Int64(t)  // PostgreSQL's numeric sums arrive as text
        default: return nil
        }
    }

    package var text: String? {
        switch self {
        case .text(let t): return t
        case .int(let i): return String(i)
        default: return nil
        }
    }
}

/// One result row, read by column name.
package struct SQLRow: Sendable {
    package var names: [String]
    package var values: [SQLValue]

    package subscript(_ name: String) -> SQLValue {
        names.firstIndex(of: name).map { values[$0] } ?? .null
    }
}

/// Where the dialects differ: column types and a few expressions. Placeholders are `?` in
/// every statement (the PostgreSQL side numbers them).
package enum SQLDialect: Sendable {
    case sqlite, postgres

    /// A 64-bit integer column.
    package var bigint: String { self == .sqlite ? "INTEGER" : "BIGINT" }
    /// A 64-bit primary key assigned in insertion order.
    package var serialKey: String { self == .sqlite ? "INTEGER PRIMARY KEY" : "BIGSERIAL PRIMARY KEY" }
    package var bytes: String { self == .sqlite ? "BLOB" : "BYTEA" }
    /// The table option for a table keyed by its primary key alone.
    package var clusteredByKey: String { self == .sqlite ? " WITHOUT ROWID" : "" }

    /// `expr` for ORDER BY, compared byte by byte (PostgreSQL would use the database's locale).
    package func byteOrder(_ expr: String) -> String { self == .sqlite ? expr : "\(expr) COLLATE \"C\"" }

    /// `YYYY-MM-DD` in UTC of a unix-milliseconds column.
    package func utcDay(ofMillis column: String) -> String {
        switch self {
        case .sqlite: return "strftime('%Y-%m-%d', \(column) / 1000, 'unixepoch')"
        case .postgres: return "to_char(to_timestamp(\(column) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        }
    }

    /// The string member `name` of a JSON object held in a text column, or NULL. The caller
    /// makes sure `name` holds no quote.
    package func jsonMember(_ column: String, _ name: String) -> String {
        switch self {
        case .sqlite: return "json_extract(\(column), '$.\"\(name)\"')"
        case .postgres: return "((\(column))::jsonb ->> '\(name)')"
        }
    }
}

/// A connection (or pool) to the store's database.
package protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement with `?` placeholders.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
    /// Inserts rows of `columns.count` values each (`values` holds them one row after the
    /// other), with an optional `ON CONFLICT ...` clause. Several calls' worth of rows go in one
    /// call: each store does it its cheapest way.
    func insert(into table: String, columns: [String], values: [SQLValue], onConflict: String?) async throws
    /// The same for rows a batch writer holds in its own form: each is written value by value
    /// where the store can (SQLite binds them as they come; no `SQLValue` is made).
    func insert(into table: String, columns: [String], rows: some SQLRowSource, onConflict: String?) async throws
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction(_ body: @Sendable (any SQLDatabase) async throws -> Void) async throws
    func close() async throws
}

extension SQLDatabase {
    @discardableResult
    package func query(_ sql: String) async throws -> [SQLRow] { try await query(sql, []) }

    /// Multi-row INSERTs of up to 500 rows, fewer when rows are wide, so a statement binds at
    /// most 30,000 values (SQLite allows 32,766, PostgreSQL 65,535): one round trip per
    /// statement rather than per row.
    package func insert(into table: String, columns: [String], values: [SQLValue], onConflict: String?) async throws {
        precondition(!columns.isEmpty && values.count % columns.count == 0, "\(values.count) values are not rows of \(columns.count)")
        let rowsPerStatement = max(1, min(500, 30_000 / columns.count)), perStatement = rowsPerStatement * columns.count
        for start in stride(from: 0, to: values.count, by: perStatement) {
            let end = min(start + perStatement, values.count)
            let sql = insertSQL(table: table, columns: columns, rows: (end - start) / columns.count) + (onConflict.map { " " + $0 } ?? "")
            try await query(sql, Array(values[start..<end]))
        }
    }

    /// Collects the rows' values and inserts them as above.
    package func insert(into table: String, columns: [String], rows: some SQLRowSource, onConflict: String?) async throws {
        var values = SQLValueWriter()
        values.values.reserveCapacity(rows.count * columns.count)
        for row in 0..<rows.count { rows.write(row, to: &values) }
        try await insert(into: table, columns: columns, values: values.values, onConflict: onConflict)
    }
}

/// Where a row's values go, in the insert's column order: straight into a statement's
/// parameters (SQLite), or into `SQLValue`s.
package protocol SQLRowWriter {
    mutating func int(_ value: Int64)
    mutating func text(_ value: String)
    mutating func bytes(_ value: [UInt8])
    mutating func null()
}

extension SQLRowWriter {
    package mutating func int(_ value: Int64?) { if let value { int(value) } else { null() } }
    package mutating func text(_ value: String?) { if let value { text(value) } else { null() } }

    package mutating func value(_ value: SQLValue) {
        switch value {
        case .int(let v): int(v)
        case .text(let v): text(v)
        case .bytes(let v): bytes(v)
        case .null: null()
        }
    }
}

/// Rows for `SQLDatabase.insert(into:columns:rows:onConflict:)`: `count` rows, each written
/// by `write` as the insert's columns' values.
package protocol SQLRowSource: Sendable {
    var count: Int { get }
    func write(_ row: Int, to writer: inout some SQLRowWriter)
}

/// Values as rows of `width`, one row after the other.
struct SQLValueRows: SQLRowSource {
    let values: [SQLValue]
    let width: Int
    var count: Int { values.count / width }

    func write(_ row: Int, to writer: inout some SQLRowWriter) {
        for i in (row * width)..<((row + 1) * width) { writer.value(values[i]) }
    }
}

/// Collects what it is given as `SQLValue`s.
struct SQLValueWriter: SQLRowWriter {
    var values: [SQLValue] = []
    mutating func int(_ value: Int64) { values.append(.int(value)) }
    mutating func text(_ value: String) { values.append(.text(value)) }
    mutating func bytes(_ value: [UInt8]) { values.append(.bytes(value)) }
    mutating func null() { values.append(.null) }
}

/// `INSERT INTO table (columns) VALUES (?, ...), ...` for `rows` rows.
func insertSQL(table: String, columns: [String], rows: Int) -> String {
    let tuple = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
    return "INSERT INTO \(table) (\(columns.joined(separator: ","))) VALUES " + Array(repeating: tuple, count: rows).joined(separator: ",")
}

/// Opens the config's `store:`.
package func openDatabase(_ location: StoreLocation, logger: Logger) async throws -> any SQLDatabase {
    switch location {
    case .sqlite(let path): return try await SQLiteDatabase.open(path: path, logger: logger)
    case .postgres(let url): return try await PostgresDatabase.connect(url, logger: logger)
    }
}
