import NIOConcurrencyHelpers

/// The in-process limiter store: counters for every key, shared by all event loops (a limit of
/// 100 a minute holds for the process, not per loop) and kept across config reloads (a reload
/// must not hand out fresh quota). Sharded so loops rarely meet on one lock.
package final class LocalLimiterStore: Sendable {
    enum Counter: Sendable {
        case window(SlidingWindowCounter)
        case bucket(TokenBucket)
    }

    struct Entry: Sendable {
        var counter: Counter
        var lastUsed: Int64
        var idleAfter: Int64
    }

    private static let shardCount = 32
    /// Past this many keys in a shard, keys idle for two windows are dropped.
    private static let sweepAbove = 20_000
    private let shards: [NIOLockedValueBox<[String: Entry]>]

    package init() {
        shards = (0..<Self.shardCount).map { _ in NIOLockedValueBox([:]) }
    }

    /// Counts `cost` against `key`'s sliding window (made on first use).
    package func takeWindow(_ key: String, limit: Int, window: Duration, cost: Int = 1, now: Int64) -> RateLimitDecision {
        take(key, now: now, idleAfter: 2 * window.nanoseconds, make: { .window(SlidingWindowCounter(limit: limit, window: window)) }, cost: cost)
    }

    /// Takes `cost` tokens from `key`'s bucket (made on first use).
    package func takeTokens(_ key: String, capacity: Int, rate: Int, period: Duration, cost: Int = 1, now: Int64) -> RateLimitDecision {
        take(key, now: now, idleAfter: 2 * period.nanoseconds, make: { .bucket(TokenBucket(capacity: capacity, rate: rate, period: period)) }, cost: cost)
    }

    /// How many keys are held (for tests and metrics).
    package var keyCount: Int { shards.reduce(0) { $0 + $1.withLockedValue { $0.count } } }

    private func take(_ key: String, now: Int64, idleAfter: Int64, make: () -> Counter, cost: Int) -> RateLimitDecision {
        var hasher = Hasher()
        hasher.combine(key)
        let shard = shards[Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))]
        return shard.withLockedValue { entries in
            if entries.count > Self.sweepAbove, entries[key] == nil {
                entries = entries.filter { now - $0.value.lastUsed < $0.value.idleAfter }
            }
            var entry = entries[key] ?? Entry(counter: make(), lastUsed: now, idleAfter: idleAfter)
            let decision: RateLimitDecision
            switch entry.counter {
            case .window(var w):
                decision = w.take(cost: cost, now: now)
                entry.counter = .window(w)
            case .bucket(var b):
                decision = b.take(cost: cost, now: now)
                entry.counter = .bucket(b)
            }
            entry.lastUsed = now
            entries[key] = entry
            return decision
        }
    }
}
