import GatewayCore
import SQLiteNIO

extension SpendCounters {
    /// Loads the current windows of every budget and daily (and per-minute) limit from the
    /// ledger, once at start-up: a restart must not hand out a fresh budget.
    public func seed(from store: SQLiteLedgerStore, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64) async throws {
        for b in budgets {
            guard let (start, _) = Self.window(of: b, at: now) else { continue }
            let column = b.subject == .consumer ? "consumer" : b.subject == .team ? "team" : "key_id"
            let rows = try await store.connection.query(
                "SELECT COALESCE(SUM(cost_micros), 0) AS spent FROM ledger WHERE time_ms >= ? AND time_ms < ? AND \(column) = ?",
                [.integer(Int(start)), .integer(Int(now + 1)), .text(b.name)])
            let spent = Int64(rows.first?.column("spent")?.integer ?? 0)
            if spent > 0 { seed(key: Self.budgetKey(b), start: start, used: spent) }
        }
        for (i, l) in limits.enumerated() {
            let column = l.by == .consumer ? "consumer" : l.by == .team ? "team" : "key_id"
            let windows: [(kind: CounterKey.Kind, start: Int64, tokens: Bool, wanted: Bool)] = [
                (.tpm, now - now % 60_000, true, l.tokensPerMinute != nil), (.rpm, now - now % 60_000, false, l.requestsPerMinute != nil),
                (.tpd, now - now % 86_400_000, true, l.tokensPerDay != nil), (.rpd, now - now % 86_400_000, false, l.requestsPerDay != nil),
            ]
            for w in windows where w.wanted {
                let modelFilter = l.model == "*" ? "" : " AND model = ?"
                var binds: [SQLiteData] = [.integer(Int(w.start)), .integer(Int(now + 1))]
                if l.model != "*" { binds.append(.text(l.model)) }
                let rows = try await store.connection.query("""
                    SELECT \(column) AS subject, SUM(input_tokens + cached_input_tokens + cache_write_tokens + output_tokens) AS tokens,
                           COUNT(*) AS requests
                    FROM ledger WHERE time_ms >= ? AND time_ms < ?\(modelFilter) AND \(column) IS NOT NULL GROUP BY \(column)
                    """, binds)
                for row in rows {
                    guard let subject = row.column("subject")?.string else { continue }
                    let used = Int64(row.column(w.tokens ? "tokens" : "requests")?.integer ?? 0)
                    seed(key: Self.limitKey(rule: i, kind: w.kind, subject: subject, model: l.model), start: w.start, used: used)
                }
            }
        }
    }
}
