import GatewayCore

extension SpendCounters {
    /// Loads the current windows of every budget and daily (and per-minute) limit from the
    /// ledger, once at start-up: a restart must not hand out a fresh budget.
    public func seed(from store: LedgerStore, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64) async throws {
        for b in budgets {
            guard let (start, _) = Self.window(of: b, at: now) else { continue }
            let column = b.subject == .consumer ? "consumer" : b.subject == .team ? "team" : "key_id"
            let spent = try await store.spentMicros(column: column, subject: b.name, from: start, to: now + 1)
            if spent > 0 { seed(key: Self.budgetKey(b), start: start, used: spent) }
        }
        for (i, l) in limits.enumerated() {
            let column = l.by == .consumer ? "consumer" : l.by == .team ? "team" : "key_id"
            let windows: [(kind: CounterKey.Kind, start: Int64, tokens: Bool, wanted: Bool)] = [
                (.tpm, now - now % 60_000, true, l.tokensPerMinute != nil), (.rpm, now - now % 60_000, false, l.requestsPerMinute != nil),
                (.tpd, now - now % 86_400_000, true, l.tokensPerDay != nil), (.rpd, now - now % 86_400_000, false, l.requestsPerDay != nil),
            ]
            for w in windows where w.wanted {
                for u in try await store.usage(by: column, model: l.model, from: w.start, to: now + 1) {
                    seed(key: Self.limitKey(rule: i, kind: w.kind, subject: u.subject, model: l.model), start: w.start, used: w.tokens ? u.tokens : u.requests)
                }
            }
        }
    }
}
