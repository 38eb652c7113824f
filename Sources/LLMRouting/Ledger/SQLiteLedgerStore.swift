import Foundation
import GatewayCore
import Logging
import SQLiteNIO

/// The ledger in the embedded SQLite file (the config's `store:`), next to the API keys.
/// Inserts come in batches from the `LedgerWriter`; chargeback reports are SQL aggregates over
/// a time range (an index on time keeps them off a full scan).
public final class SQLiteLedgerStore: Sendable {
    let connection: SQLiteConnection

    static let columns = [
        "time_ms", "request_id", "consumer", "team", "key_id", "tags", "model", "provider", "served_model", "attempts",
        "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
        "cost_micros", "saved_micros", "cache_hit", "status", "latency_ms", "ttft_ms", "estimated",
    ]

    private init(connection: SQLiteConnection) { self.connection = connection }

    public static func open(path: String, logger: Logger = Logger(label: "triplegate.ledger")) async throws -> SQLiteLedgerStore {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await connection.query("PRAGMA journal_mode=WAL", [])
        _ = try await connection.query("PRAGMA busy_timeout=5000", [])
        // NORMAL is durable across a process crash in WAL mode (only an OS crash can lose the
        // last transactions), and it spares an fsync per batch.
        _ = try await connection.query("PRAGMA synchronous=NORMAL", [])
        _ = try await connection.query("""
            CREATE TABLE IF NOT EXISTS ledger (
              id INTEGER PRIMARY KEY,
              time_ms INTEGER NOT NULL, request_id TEXT NOT NULL, consumer TEXT, team TEXT, key_id TEXT, tags TEXT NOT NULL,
              model TEXT NOT NULL, provider TEXT, served_model TEXT, attempts INTEGER NOT NULL,
              input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,
              output_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
              cost_micros INTEGER NOT NULL, saved_micros INTEGER NOT NULL, cache_hit TEXT NOT NULL, status INTEGER NOT NULL,
              latency_ms INTEGER NOT NULL, ttft_ms INTEGER, estimated INTEGER NOT NULL
            )
            """, [])
        _ = try await connection.query("CREATE INDEX IF NOT EXISTS ledger_time ON ledger (time_ms)", [])
        // Hourly sums by every report dimension, kept in the same transaction as the rows: a
        // report over whole hours reads these instead of every call. Text columns hold '' for
        // absent values so the key is unique.
        _ = try await connection.query("""
            CREATE TABLE IF NOT EXISTS ledger_hourly (
              hour_ms INTEGER NOT NULL, consumer TEXT NOT NULL, team TEXT NOT NULL, key_id TEXT NOT NULL, tags TEXT NOT NULL,
              model TEXT NOT NULL, provider TEXT NOT NULL, served_model TEXT NOT NULL,
              requests INTEGER NOT NULL, input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,
              cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
              cost_micros INTEGER NOT NULL, saved_micros INTEGER NOT NULL,
              PRIMARY KEY (hour_ms, consumer, team, key_id, tags, model, provider, served_model)
            ) WITHOUT ROWID
            """, [])
        let store = SQLiteLedgerStore(connection: connection)
        try await store.backfillRollup()
        return store
    }

    static let rollupKey = ["consumer", "team", "key_id", "tags", "model", "provider", "served_model"]
    static let rollupSums = ["input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens", "cost_micros", "saved_micros"]

    /// Builds the rollup from the rows when a ledger written before it existed has none.
    private func backfillRollup() async throws {
        let rolled = try await connection.query("SELECT 1 FROM ledger_hourly LIMIT 1", [])
        let rows = try await connection.query("SELECT 1 FROM ledger LIMIT 1", [])
        guard rolled.isEmpty, !rows.isEmpty else { return }
        _ = try await connection.query("""
            INSERT INTO ledger_hourly SELECT time_ms - time_ms % 3600000, \(Self.rollupKey.map { "COALESCE(\($0), '')" }.joined(separator: ", ")),
              COUNT(*), \(Self.rollupSums.map { "SUM(\($0))" }.joined(separator: ", "))
            FROM ledger GROUP BY 1, \((2...8).map(String.init).joined(separator: ", "))
            """, [])
    }

    public func close() async throws { try await connection.close() }

    /// Writes rows in one transaction (all or none).
    public func insert(_ rows: [LedgerRow]) async throws {
        guard !rows.isEmpty else { return }
        // SQLite allows 32,766 bound values per statement: 22 columns × 500 rows stays below.
        let placeholders = "(" + Array(repeating: "?", count: Self.columns.count).joined(separator: ",") + ")"
        _ = try await connection.query("BEGIN IMMEDIATE", [])
        do {
            for start in stride(from: 0, to: rows.count, by: 500) {
                let batch = rows[start..<min(start + 500, rows.count)]
                var binds: [SQLiteData] = []
                binds.reserveCapacity(batch.count * Self.columns.count)
                for r in batch { binds += Self.binds(r) }
                let sql = "INSERT INTO ledger (\(Self.columns.joined(separator: ","))) VALUES "
                    + Array(repeating: placeholders, count: batch.count).joined(separator: ",")
                _ = try await connection.query(sql, binds)
            }
            try await addToRollup(rows)
            _ = try await connection.query("COMMIT", [])
        } catch {
            _ = try? await connection.query("ROLLBACK", [])
            throw error
        }
    }

    /// Adds a batch to the hourly sums: grouped in memory first, one upsert per group.
    private func addToRollup(_ rows: [LedgerRow]) async throws {
        struct Key: Hashable { var hour: Int64; var fields: [String] }
        var sums: [Key: [Int64]] = [:]
        for r in rows {
            let tags = r.tagsJSON
            let key = Key(hour: r.timeMillis - r.timeMillis % 3_600_000,
                          fields: [r.consumer ?? "", r.team ?? "", r.keyID ?? "", tags, r.model, r.provider ?? "", r.servedModel ?? ""])
            let u = r.usage
            let add: [Int64] = [1, Int64(u.input), Int64(u.cachedInput), Int64(u.cacheWrite), Int64(u.output), Int64(u.reasoning), r.costMicros, r.savedByCacheMicros]
            sums[key] = zip(sums[key] ?? Array(repeating: 0, count: add.count), add).map(+)
        }
        let columns = ["hour_ms"] + Self.rollupKey + ["requests"] + Self.rollupSums
        let updates = (["requests"] + Self.rollupSums).map { "\($0) = \($0) + excluded.\($0)" }.joined(separator: ", ")
        let sql = "INSERT INTO ledger_hourly (\(columns.joined(separator: ","))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ",")))"
            + " ON CONFLICT (hour_ms, \(Self.rollupKey.joined(separator: ", "))) DO UPDATE SET \(updates)"
        for (key, values) in sums {
            let binds: [SQLiteData] = [.integer(Int(key.hour))] + key.fields.map { .text($0) } + values.map { .integer(Int($0)) }
            _ = try await connection.query(sql, binds)
        }
    }

    static func binds(_ r: LedgerRow) -> [SQLiteData] {
        func text(_ s: String?) -> SQLiteData { s.map { .text($0) } ?? .null }
        let tags = r.tagsJSON
        return [
            .integer(Int(r.timeMillis)), .text(r.requestID), text(r.consumer), text(r.team), text(r.keyID), .text(tags),
            .text(r.model), text(r.provider), text(r.servedModel), .integer(r.attempts),
            .integer(r.usage.input), .integer(r.usage.cachedInput), .integer(r.usage.cacheWrite), .integer(r.usage.output), .integer(r.usage.reasoning),
            .integer(Int(r.costMicros)), .integer(Int(r.savedByCacheMicros)), .text(r.cacheHit), .integer(r.status),
            .integer(Int(r.latencyMillis)), r.timeToFirstTokenMillis.map { .integer(Int($0)) } ?? .null, .integer(r.estimated ? 1 : 0),
        ]
    }

    /// Rows in `[from, to)` (unix ms), oldest first: for tests and exports.
    public func rows(from: Int64, to: Int64) async throws -> [LedgerRow] {
        let found = try await connection.query("SELECT * FROM ledger WHERE time_ms >= ? AND time_ms < ? ORDER BY id", [.integer(Int(from)), .integer(Int(to))])
        return found.map { row in
            func int(_ c: String) -> Int { row.column(c)?.integer ?? 0 }
            let tags = (try? JSONParser.parse(row.column("tags")?.string ?? "{}"))?.objectFields?.map { ($0.0, $0.1.stringValue ?? "") } ?? []
            return LedgerRow(
                timeMillis: Int64(int("time_ms")), requestID: row.column("request_id")?.string ?? "", consumer: row.column("consumer")?.string,
                team: row.column("team")?.string, keyID: row.column("key_id")?.string, tags: tags, model: row.column("model")?.string ?? "",
                provider: row.column("provider")?.string, servedModel: row.column("served_model")?.string, attempts: int("attempts"),
                usage: TokenUsage(input: int("input_tokens"), cachedInput: int("cached_input_tokens"), cacheWrite: int("cache_write_tokens"),
                                  output: int("output_tokens"), reasoning: int("reasoning_tokens")),
                costMicros: Int64(int("cost_micros")), savedByCacheMicros: Int64(int("saved_micros")), cacheHit: row.column("cache_hit")?.string ?? "none",
                status: int("status"), latencyMillis: Int64(int("latency_ms")), timeToFirstTokenMillis: row.column("ttft_ms")?.integer.map(Int64.init),
                estimated: int("estimated") != 0)
        }
    }

    /// Sums per group over `[from, to)`: see `ChargebackReport`.
    public func chargeback(_ query: ChargebackQuery) async throws -> ChargebackReport {
        // Whole hours are answered from the hourly sums; other ranges from the rows.
        let hourly = query.from % 3_600_000 == 0 && query.to % 3_600_000 == 0
        let table = hourly ? "ledger_hourly" : "ledger", time = hourly ? "hour_ms" : "time_ms"
        let keys = query.groupBy.map { $0.sqlExpression.replacingOccurrences(of: ChargebackDimension.timeColumn, with: time) }
        let select = keys.enumerated().map { "\($1) AS g\($0)" }
        let count = hourly ? "SUM(requests)" : "COUNT(*)"
        let sql = """
            SELECT \((select + [
                "\(count) AS requests", "SUM(input_tokens + cached_input_tokens + cache_write_tokens) AS input_tokens",
                "SUM(cached_input_tokens) AS cached_input_tokens", "SUM(cache_write_tokens) AS cache_write_tokens",
                "SUM(output_tokens) AS output_tokens", "SUM(cost_micros) AS cost_micros", "SUM(saved_micros) AS saved_micros",
            ]).joined(separator: ", "))
            FROM \(table) WHERE \(time) >= ? AND \(time) < ?
            \(keys.isEmpty ? "" : "GROUP BY " + (0..<keys.count).map { "g\($0)" }.joined(separator: ", ") + " ORDER BY " + (0..<keys.count).map { "g\($0)" }.joined(separator: ", "))
            """
        let found = try await connection.query(sql, [.integer(Int(query.from)), .integer(Int(query.to))])
        let lines = found.compactMap { row -> ChargebackReport.Line? in
            let requests = row.column("requests")?.integer ?? 0
            guard requests > 0 else { return nil }  // an empty range sums to one row of nulls
            func int(_ c: String) -> Int64 { Int64(row.column(c)?.integer ?? 0) }
            return ChargebackReport.Line(
                group: (0..<keys.count).map { row.column("g\($0)")?.string ?? row.column("g\($0)")?.integer.map(String.init) ?? "" },
                requests: Int64(requests), inputTokens: int("input_tokens"), cachedInputTokens: int("cached_input_tokens"),
                cacheWriteTokens: int("cache_write_tokens"), outputTokens: int("output_tokens"), costMicros: int("cost_micros"),
                savedMicros: int("saved_micros"))
        }
        return ChargebackReport(groupBy: query.groupBy, lines: lines)
    }
}
