import GatewayCore
import NIOConcurrencyHelpers
import NIOCore

extension SpendCounters {
    /// One counter window as the ledger has it.
    struct LedgerWindow {
        var key: CounterKey
        var start: Int64
        var end: Int64
        var used: Int64
    }

    /// The current windows of every budget and daily (and per-minute) limit, from the ledger:
    /// what the counters start from at start-up, and what Redis is rebuilt from after it lost
    /// them.
    static func windows(from store: LedgerStore, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64) async throws -> [LedgerWindow] {
        var out: [LedgerWindow] = []
        for b in budgets {
            guard let (start, end) = Self.window(of: b, at: now) else { continue }
            let column = b.subject == .consumer ? "consumer" : b.subject == .team ? "team" : "key_id"
            let spent = try await store.spentMicros(column: column, subject: b.name, from: start, to: now + 1)
            if spent > 0 { out.append(LedgerWindow(key: Self.budgetKey(b), start: start, end: end, used: spent)) }
        }
        for (i, l) in limits.enumerated() {
            let column = l.by == .consumer ? "consumer" : l.by == .team ? "team" : "key_id"
            let minute = now - now % 60_000, day = now - now % 86_400_000
            let windows: [(kind: CounterKey.Kind, start: Int64, end: Int64, tokens: Bool, wanted: Bool)] = [
                (.tpm, minute, minute + 60_000, true, l.tokensPerMinute != nil), (.rpm, minute, minute + 60_000, false, l.requestsPerMinute != nil),
                (.tpd, day, day + 86_400_000, true, l.tokensPerDay != nil), (.rpd, day, day + 86_400_000, false, l.requestsPerDay != nil),
            ]
            for w in windows where w.wanted {
                for u in try await store.usage(by: column, model: l.model, from: w.start, to: now + 1) {
                    out.append(LedgerWindow(key: Self.limitKey(rule: i, kind: w.kind, subject: u.subject, model: l.model),
                                            start: w.start, end: w.end, used: w.tokens ? u.tokens : u.requests))
                }
            }
        }
        return out
    }

    /// Loads the current windows of every budget and limit from the ledger, once at start-up:
    /// a restart must not hand out a fresh budget.
    package func seed(from store: LedgerStore, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64) async throws {
        for w in try await Self.windows(from: store, limits: limits, budgets: budgets, now: now) {
            seed(key: w.key, start: w.start, used: w.used)
        }
    }

    /// The ledger Redis counters are rebuilt from when Redis lost them (`llm.counters: redis`).
    package func useLedgerForRebuild(_ store: LedgerStore) {
        redisRebuild.withLockedValue { $0.store = store }
    }

    /// Rebuilds Redis's counters from the ledger, once at a time for this process: calls that
    /// find the counters gone wait for it, then reserve against what was really spent.
    func rebuildRedis(_ redis: RedisSpendCounters, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64,
                      on eventLoop: EventLoop) -> EventLoopFuture<Void> {
        let (store, running, promise): (LedgerStore?, EventLoopFuture<Void>?, EventLoopPromise<Void>?) = redisRebuild.withLockedValue { r in
            if let running = r.running { return (r.store, running, nil) }
            let promise = eventLoop.makePromise(of: Void.self)
            r.running = promise.futureResult
            return (r.store, nil, promise)
        }
        guard let promise else { return running!.hop(to: eventLoop) }
        let box = redisRebuild
        Task {
            do {
                var windows: [LedgerWindow] = []
                if let store { windows = try await Self.windows(from: store, limits: limits, budgets: budgets, now: now) }
                try await redis.rebuild(windows, now: now, on: eventLoop).get()
                promise.succeed()
            } catch {
                promise.fail(error)
            }
            box.withLockedValue { $0.running = nil }
        }
        return promise.futureResult
    }
}

/// The state of a Redis rebuild: the ledger it reads, and the rebuild under way.
struct RedisRebuildState: Sendable {
    var store: LedgerStore?
    var running: EventLoopFuture<Void>?
}
