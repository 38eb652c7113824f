import Foundation
import GatewayCore
import Logging

/// The ledger in the config's store: the embedded SQLite file or PostgreSQL, next to the API
/// keys, through the same statements (only column types and two expressions differ, see
/// `SQLDialect`), so both answer every report identically. Inserts come in batches from the
/// `LedgerWriter`; chargeback reports are SQL aggregates over a time range, from hourly sums
/// when the range is whole hours.
package final class LedgerStore: Sendable {
    let db: any SQLDatabase

    static let columns = [
        "time_ms", "request_id", "consumer", "team", "key_id", "tags", "model", "provider", "served_model", "attempts",
        "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
        "cost_micros", "saved_micros", "cache_hit", "status", "latency_ms", "ttft_ms", "estimated",
    ]
    static let rollupKey = ["consumer", "team", "key_id", "tags", "model", "provider", "served_model"]
    static let rollupSums = ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_micros", "saved_micros"]

    private init(db: any SQLDatabase) { self.db = db }

    package static func open(_ location: StoreLocation, logger: Logger = Logger(label: "triplegate.ledger")) async throws -> LedgerStore {
        try await open(openDatabase(location, logger: logger))
    }

    /// Creates the tables if new.
    package static func open(_ db: any SQLDatabase) async throws -> LedgerStore {
        let d = db.dialect, int = d.bigint
        try await db.query("""
            CREATE TABLE IF NOT EXISTS ledger (
              id \(d.serialKey),
              time_ms \(int) NOT NULL, request_id TEXT NOT NULL, consumer TEXT, team TEXT, key_id TEXT, tags TEXT NOT NULL,
              model TEXT NOT NULL, provider TEXT, served_model TEXT, attempts \(int) NOT NULL,
              input_tokens \(int) NOT NULL, cached_input_tokens \(int) NOT NULL, cache_write_tokens \(int) NOT NULL,
              output_tokens \(int) NOT NULL, reasoning_tokens \(int) NOT NULL,
              cost_micros \(int) NOT NULL, saved_micros \(int) NOT NULL, cache_hit TEXT NOT NULL, status \(int) NOT NULL,
              latency_ms \(int) NOT NULL, ttft_ms \(int), estimated \(int) NOT NULL
            )
            """)
        try await db.query("CREATE INDEX IF NOT EXISTS ledger_time ON ledger (time_ms)")
        // Hourly sums by every report dimension, kept in the same transaction as the rows: a
        // report over whole hours reads these instead of every call. Text columns hold '' for
        // absent values so the key is unique.
        try await db.query("""
            CREATE TABLE IF NOT EXISTS ledger_hourly (
              hour_ms \(int) NOT NULL, consumer TEXT NOT NULL, team TEXT NOT NULL, key_id TEXT NOT NULL, tags TEXT NOT NULL,
              model TEXT NOT NULL, provider TEXT NOT NULL, served_model TEXT NOT NULL,
              requests \(int) NOT NULL, input_tokens \(int) NOT NULL, cached_input_tokens \(int) NOT NULL,
              cache_write_tokens \(int) NOT NULL, output_tokens \(int) NOT NULL, reasoning_tokens \(int) NOT NULL,
              cost_micros \(int) NOT NULL, saved_micros \(int) NOT NULL,
              PRIMARY KEY (hour_ms, consumer, team, key_id, tags, model, provider, served_model)
            )\(d.clusteredByKey)
            """)
        let store = LedgerStore(db: db)
        try await store.backfillRollup()
        return store
    }

    /// Builds the rollup from the rows when a ledger written before it existed has none.
    private func backfillRollup() async throws {
        let rolled = try await db.query("SELECT 1 FROM ledger_hourly LIMIT 1")
        let rows = try await db.query("SELECT 1 FROM ledger LIMIT 1")
        guard rolled.isEmpty, !rows.isEmpty else { return }
        try await db.query("""
            INSERT INTO ledger_hourly SELECT time_ms - time_ms % 3600000, \(Self.rollupKey.map { "COALESCE(\($0), '')" }.joined(separator: ", ")),
              COUNT(*), \(Self.rollupSums.map { "CAST(SUM(\($0)) AS \(db.dialect.bigint))" }.joined(separator: ", "))
            FROM ledger GROUP BY 1, \((2...8).map(String.init).joined(separator: ", "))
            """)
    }

    package func close() async throws { try await db.close() }

    /// Writes rows and their hourly sums in one transaction (all or none).
    package func insert(_ rows: [LedgerRow]) async throws {
        guard !rows.isEmpty else { return }
        let sums = Self.rollupValues(rows)
        try await db.transaction { tx in
            // A few hundred rows per call: on SQLite one job each, so a batch of thousands does
            // not keep the connection from readers all along; on PostgreSQL, one statement.
            for start in stride(from: 0, to: rows.count, by: Self.rowsPerChunk) {
                let chunk = Columns(rows: rows, range: start..<min(start + Self.rowsPerChunk, rows.count))
                try await tx.insert(into: "ledger", columns: Self.columns, rows: chunk, onConflict: nil)
            }
            try await tx.insert(into: "ledger_hourly", columns: Self.rollupColumns, values: sums, onConflict: Self.rollupUpsert)
        }
    }

    /// Rows per insert call (one PostgreSQL statement's worth, see `SQLDatabase.insert`).
    static let rowsPerChunk = 500

    static let rollupColumns = ["hour_ms"] + rollupKey + ["requests"] + rollupSums
    /// Adds a batch's sums to the hour's (each key comes once per batch, as PostgreSQL requires
    /// of one statement).
    static let rollupUpsert = "ON CONFLICT (hour_ms, \(rollupKey.joined(separator: ", "))) DO UPDATE SET "
        + (["requests"] + rollupSums).map { "\($0) = ledger_hourly.\($0) + excluded.\($0)" }.joined(separator: ", ")

    /// A batch's additions to the hourly sums, grouped in memory: per group, `rollupColumns`'
    /// values one group after the other.
    ///
    /// Here and in `Columns` the rows are read through a pointer, a field at a time. Passing a
    /// row from an array (or a `for` loop) copies all of it: a retain and a release of each of
    /// its strings, long after the event loop wrote them and out of every cache.
    static func rollupValues(_ rows: [LedgerRow]) -> [SQLValue] {
        rows.withUnsafeBufferPointer { rows in
            guard let first = rows.baseAddress else { return [] }
            // The key's fields are `rollupKey`'s columns; `sameRollupKey` compares the same ones.
            struct Key: Hashable { var hour: Int64; var fields: [String] }
            var sums: [Key: [Int64]] = [:]
            // Calls come in runs of the same caller and model: a run is summed before its key
            // is built and hashed once.
            var run = [Int64](repeating: 0, count: 8), runStart = first
            func endRun() {
                let r = runStart
                let key = Key(hour: r.pointee.timeMillis - r.pointee.timeMillis % 3_600_000,
                              fields: [r.pointee.consumer ?? "", r.pointee.team ?? "", r.pointee.keyID ?? "", LedgerRow.json(tags: r.pointee.tags),
                                       r.pointee.model, r.pointee.provider ?? "", r.pointee.servedModel ?? ""])
                if let i = sums.index(forKey: key) {
                    for j in run.indices { sums.values[i][j] += run[j] }
                } else {
                    sums[key] = run
                }
                for j in run.indices { run[j] = 0 }
            }
            for r in first..<(first + rows.count) {
                if r != runStart, !sameRollupKey(runStart, r) {
                    endRun()
                    runStart = r
                }
                let u = r.pointee.usage
                run[0] += 1
                run[1] += Int64(u.input)
                run[2] += Int64(u.cachedInput)
                run[3] += Int64(u.cacheWrite)
                run[4] += Int64(u.output)
                run[5] += Int64(u.reasoning)
                run[6] += r.pointee.costMicros
                run[7] += r.pointee.savedByCacheMicros
            }
            endRun()
            var values: [SQLValue] = []
            values.reserveCapacity(sums.count * rollupColumns.count)
            for (key, sum) in sums {
                values.append(.int(key.hour))
                for field in key.fields { values.append(.text(field)) }
                for s in sum { values.append(.int(s)) }
            }
            return values
        }
    }

    /// Whether two rows add to the same hourly sum (the hour and `rollupKey`'s columns).
    static func sameRollupKey(_ a: UnsafePointer<LedgerRow>, _ b: UnsafePointer<LedgerRow>) -> Bool {
        a.pointee.timeMillis / 3_600_000 == b.pointee.timeMillis / 3_600_000 && a.pointee.consumer == b.pointee.consumer
            && a.pointee.team == b.pointee.team && a.pointee.keyID == b.pointee.keyID && a.pointee.model == b.pointee.model
            && a.pointee.provider == b.pointee.provider && a.pointee.servedModel == b.pointee.servedModel
            && a.pointee.tags.elementsEqual(b.pointee.tags, by: { $0.0 == $1.0 && $0.1 == $1.1 })
    }

    /// `rows[range]` as the store writes them: each row's values in `columns` order.
    struct Columns: SQLRowSource {
        let rows: [LedgerRow]
        let range: Range<Int>
        var count: Int { range.count }

        func write(_ row: Int, to w: inout some SQLRowWriter) {
            rows.withUnsafeBufferPointer { rows in
                let r = rows.baseAddress! + range.lowerBound + row
                w.int(r.pointee.timeMillis)
                w.text(r.pointee.requestID)
                w.text(r.pointee.consumer)
                w.text(r.pointee.team)
                w.text(r.pointee.keyID)
                w.text(LedgerRow.json(tags: r.pointee.tags))
                w.text(r.pointee.model)
                w.text(r.pointee.provider)
                w.text(r.pointee.servedModel)
                w.int(Int64(r.pointee.attempts))
                w.int(Int64(r.pointee.usage.input))
                w.int(Int64(r.pointee.usage.cachedInput))
                w.int(Int64(r.pointee.usage.cacheWrite))
                w.int(Int64(r.pointee.usage.output))
                w.int(Int64(r.pointee.usage.reasoning))
                w.int(r.pointee.costMicros)
                w.int(r.pointee.savedByCacheMicros)
                w.text(r.pointee.cacheHit)
                w.int(Int64(r.pointee.status))
                w.int(r.pointee.latencyMillis)
                w.int(r.pointee.timeToFirstTokenMillis)
                w.int(r.pointee.estimated ? 1 : 0)
            }
        }
    }

    /// Rows in `[from, to)` (unix ms), oldest first: for tests and exports.
    package func rows(from: Int64, to: Int64) async throws -> [LedgerRow] {
        try await db.query("SELECT * FROM ledger WHERE time_ms >= ? AND time_ms < ? ORDER BY id", [.int(from), .int(to)]).map { row in
            func int(_ c: String) -> Int { Int(row[c].int ?? 0) }
            let tags = (try? JSONParser.parse(row["tags"].text ?? "{}"))?.objectFields?.map { ($0.0, $0.1.stringValue ?? "") } ?? []
            return LedgerRow(
                timeMillis: Int64(int("time_ms")), requestID: row["request_id"].text ?? "", consumer: row["consumer"].text,
                team: row["team"].text, keyID: row["key_id"].text, tags: tags, model: row["model"].text ?? "",
                provider: row["provider"].text, servedModel: row["served_model"].text, attempts: int("attempts"),
                usage: TokenUsage(input: int("input_tokens"), cachedInput: int("cached_input_tokens"), cacheWrite: int("cache_write_tokens"),
                                  output: int("output_tokens"), reasoning: int("reasoning_tokens")),
                costMicros: Int64(int("cost_micros")), savedByCacheMicros: Int64(int("saved_micros")), cacheHit: row["cache_hit"].text ?? "none",
                status: int("status"), latencyMillis: Int64(int("latency_ms")), timeToFirstTokenMillis: row["ttft_ms"].int,
                estimated: int("estimated") != 0)
        }
    }

    /// Sums per group over `[from, to)`: see `ChargebackReport`.
    package func chargeback(_ query: ChargebackQuery) async throws -> ChargebackReport {
        // Whole hours are answered from the hourly sums; other ranges from the rows.
        let hourly = query.from % 3_600_000 == 0 && query.to % 3_600_000 == 0
        let table = hourly ? "ledger_hourly" : "ledger", time = hourly ? "hour_ms" : "time_ms"
        let d = db.dialect
        let keys = query.groupBy.map { $0.sqlExpression(d, timeColumn: time) }
        let sum = { (e: String) in "CAST(SUM(\(e)) AS \(d.bigint))" }
        let groups = (0..<keys.count).map { "g\($0)" }
        let sql = """
            SELECT \((keys.enumerated().map { "\($1) AS g\($0)" } + [
                "\(hourly ? sum("requests") : "COUNT(*)") AS requests", "\(sum("input_tokens + cached_input_tokens + cache_write_tokens")) AS input_tokens",
                "\(sum("cached_input_tokens")) AS cached_input_tokens", "\(sum("cache_write_tokens")) AS cache_write_tokens",
                "\(sum("output_tokens")) AS output_tokens", "\(sum("cost_micros")) AS cost_micros", "\(sum("saved_micros")) AS saved_micros",
            ]).joined(separator: ", "))
            FROM \(table) WHERE \(time) >= ? AND \(time) < ?
            \(keys.isEmpty ? "" : "GROUP BY " + (1...keys.count).map(String.init).joined(separator: ", ") + " ORDER BY " + keys.map(d.byteOrder).joined(separator: ", "))
            """
        let lines = try await db.query(sql, [.int(query.from), .int(query.to)]).compactMap { row -> ChargebackReport.Line? in
            let requests = row["requests"].int ?? 0
            guard requests > 0 else { return nil }  // an empty range sums to one row of nulls
            func int(_ c: String) -> Int64 { row[c].int ?? 0 }
            return ChargebackReport.Line(
                group: groups.map { row[$0].text ?? "" }, requests: requests, inputTokens: int("input_tokens"),
                cachedInputTokens: int("cached_input_tokens"), cacheWriteTokens: int("cache_write_tokens"), outputTokens: int("output_tokens"),
                costMicros: int("cost_micros"), savedMicros: int("saved_micros"))
        }
        return ChargebackReport(groupBy: query.groupBy, lines: lines)
    }

    /// Micro-USD spent in `[from, to)` by the calls whose `column` (consumer, team or key_id)
    /// is `subject`: a budget's window, at start-up.
    func spentMicros(column: String, subject: String, from: Int64, to: Int64) async throws -> Int64 {
        try await db.query(
            "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS \(db.dialect.bigint)) AS spent FROM ledger WHERE time_ms >= ? AND time_ms < ? AND \(column) = ?",
            [.int(from), .int(to), .text(subject)]).first?["spent"].int ?? 0
    }

    /// Tokens and requests in `[from, to)` per value of `column`, for one model or all (`*`):
    /// a token limit's window, at start-up.
    func usage(by column: String, model: String, from: Int64, to: Int64) async throws -> [(subject: String, tokens: Int64, requests: Int64)] {
        let modelFilter = model == "*" ? "" : " AND model = ?"
        let binds: [SQLValue] = [.int(from), .int(to)] + (model == "*" ? [] : [.text(model)])
        return try await db.query("""
            SELECT \(column) AS subject, CAST(SUM(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens) AS \(db.dialect.bigint)) AS tokens,
                   COUNT(*) AS requests
            FROM ledger WHERE time_ms >= ? AND time_ms < ?\(modelFilter) AND \(column) IS NOT NULL GROUP BY \(column)
            """, binds).compactMap { row in
            guard let subject = row["subject"].text else { return nil }
            return (subject, row["tokens"].int ?? 0, row["requests"].int ?? 0)
        }
    }
}
