import GatewayCore
import Logging
import NIOCore

/// Limits and budgets counted in Redis (`llm.counters: redis`), so replicas share them. The same
/// windows and rules as `SpendCounters`; each window is a Redis hash (`used`, `reserved`,
/// `alerted`) that expires an hour after its window ends. Reserving checks and reserves every
/// window in one Lua script, so concurrent calls on all replicas together cannot pass a limit.
/// When Redis cannot answer in time the call goes ahead (logged and counted, as `rate_limit`
/// does): every call is still in the ledger, so nothing spent goes unrecorded.
///
/// Redis restarted without persistence would hand every team a fresh budget. An epoch key
/// (`tg:spend:epoch`, written when the counters were built from the ledger, never expiring)
/// tells: reserving finds it gone, the counters are rebuilt from the ledger (the same windows
/// the in-process counters start from), and only then is the call reserved.
final class RedisSpendCounters: Sendable {
    let store: RedisLimiterStore
    private let logger = Logger(label: "triplegate.llm")

    init(store: RedisLimiterStore) { self.store = store }

    // KEYS: windows; ARGV per key: ceiling, amount, ttl ms. Returns {0, left...} or {index, left}.
    static let epochKey = "tg:spend:epoch"

    static let reserveScript = """
        if redis.call('EXISTS', '\(epochKey)') == 0 then
          return {-1}
        end
        for i = 1, #KEYS do
          local b = (i - 1) * 3
          local used = tonumber(redis.call('HGET', KEYS[i], 'used') or '0')
          local reserved = tonumber(redis.call('HGET', KEYS[i], 'reserved') or '0')
          if used + reserved + tonumber(ARGV[b + 2]) > tonumber(ARGV[b + 1]) then
            return {i, tonumber(ARGV[b + 1]) - used - reserved}
          end
        end
        local out = {0}
        for i = 1, #KEYS do
          local b = (i - 1) * 3
          local reserved = redis.call('HINCRBY', KEYS[i], 'reserved', ARGV[b + 2])
          redis.call('PEXPIRE', KEYS[i], ARGV[b + 3])
          local used = tonumber(redis.call('HGET', KEYS[i], 'used') or '0')
          out[#out + 1] = tonumber(ARGV[b + 1]) - used - reserved
        end
        return out
        """
    static let reserveSHA = RedisLimiterStore.scriptSHA(reserveScript)

    // KEYS: windows; ARGV per key: reserved amount, used amount, alert threshold (-1: none).
    // Returns {index, used, ...} for the windows whose soft alert fired now.
    static let settleScript = """
        local out = {}
        for i = 1, #KEYS do
          local b = (i - 1) * 3
          if redis.call('EXISTS', KEYS[i]) == 1 then
            redis.call('HINCRBY', KEYS[i], 'reserved', -tonumber(ARGV[b + 1]))
            local used = redis.call('HINCRBY', KEYS[i], 'used', ARGV[b + 2])
            local t = tonumber(ARGV[b + 3])
            if t >= 0 and used >= t and redis.call('HSETNX', KEYS[i], 'alerted', 1) == 1 then
              out[#out + 1] = i
              out[#out + 1] = used
            end
          end
        end
        return out
        """
    static let settleSHA = RedisLimiterStore.scriptSHA(settleScript)

    // KEYS: windows; ARGV per key: used per the ledger, ttl ms. Raises `used` to the ledger's
    // figure (never lowers it: another replica may have counted calls since), then sets the epoch.
    static let rebuildScript = """
        for i = 1, #KEYS do
          local b = (i - 1) * 2
          local used = tonumber(redis.call('HGET', KEYS[i], 'used') or '0')
          if tonumber(ARGV[b + 1]) > used then redis.call('HSET', KEYS[i], 'used', ARGV[b + 1]) end
          redis.call('PEXPIRE', KEYS[i], ARGV[b + 2])
        end
        redis.call('SET', '\(epochKey)', '1')
        return 1
        """
    static let rebuildSHA = RedisLimiterStore.scriptSHA(rebuildScript)

    func rebuild(_ windows: [SpendCounters.LedgerWindow], now: Int64, on eventLoop: EventLoop) -> EventLoopFuture<Void> {
        logger.warning("redis holds no spend counters (restarted?); rebuilding them from the ledger", metadata: ["windows": "\(windows.count)"])
        var args: [String] = []
        for w in windows { args += [String(w.used), String(max(w.end - now, 0) + 3_600_000)] }
        return store.script(Self.rebuildScript, sha: Self.rebuildSHA, keys: windows.map { Self.redisKey($0.key, start: $0.start) }, args: args, on: eventLoop)
            .map { _ in }
    }

    static func redisKey(_ c: SpendCounters.Check) -> String { redisKey(c.key, start: c.start) }

    static func redisKey(_ k: SpendCounters.CounterKey, start: Int64) -> String {
        "tg:spend:\(k.kind.rawValue):\(k.rule):\(k.subject):\(k.model):\(start)"
    }

    /// Reserves `r`; when Redis has lost the counters, `rebuild` restores them first.
    func reserve(_ r: SpendRequest, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64, on eventLoop: EventLoop,
                 rebuild: @escaping @Sendable () -> EventLoopFuture<Void>) -> EventLoopFuture<Result<SpendCounters.Reservation, SpendRefusal>> {
        reserveOnce(r, limits: limits, budgets: budgets, now: now, on: eventLoop).flatMap { outcome in
            guard case .rebuild = outcome else { return eventLoop.makeSucceededFuture(outcome.result) }
            return rebuild()
                .flatMap { self.reserveOnce(r, limits: limits, budgets: budgets, now: now, on: eventLoop).map { $0.result } }
                .flatMapErrorThrowing { [logger = self.logger] error in
                    logger.error("redis spend counters could not be rebuilt; the call goes ahead unchecked", metadata: ["error": "\(error)"])
                    return .success(SpendCounters.Reservation.empty)
                }
        }
    }

    enum Outcome {
        case done(Result<SpendCounters.Reservation, SpendRefusal>)
        /// Redis has no epoch: its counters are gone.
        case rebuild

        var result: Result<SpendCounters.Reservation, SpendRefusal> {
            if case .done(let r) = self { return r }
            return .success(SpendCounters.Reservation.empty)  // rebuilt and still gone: unchecked
        }
    }

    private func reserveOnce(_ r: SpendRequest, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64,
                             on eventLoop: EventLoop) -> EventLoopFuture<Outcome> {
        let checks = SpendCounters.checks(r, limits: limits, budgets: budgets, now: now)
        guard !checks.isEmpty else { return eventLoop.makeSucceededFuture(.done(.success(SpendCounters.Reservation.empty))) }
        var args: [String] = []
        for c in checks { args += [String(c.ceiling), String(c.amount), String(c.end - now + 3_600_000)] }
        let logger = self.logger
        return store.script(Self.reserveScript, sha: Self.reserveSHA, keys: checks.map(Self.redisKey), args: args, on: eventLoop)
            .map { reply -> Outcome in
                guard case .array(let items?) = reply, let first = items.first?.int else {
                    logger.error("unexpected spend reply from redis; the call goes ahead", metadata: ["reply": "\(reply)"])
                    return .done(.success(SpendCounters.Reservation.empty))
                }
                if first == -1 { return .rebuild }
                if first > 0, first <= checks.count {
                    return .done(.failure(SpendCounters.refusal(checks[first - 1], left: Int64(items.count > 1 ? items[1].int ?? 0 : 0), now: now)))
                }
                var held = checks
                for (n, left) in zip(held.indices, items.dropFirst()) { held[n].left = Int64(left.int ?? 0) }
                return .done(.success(SpendCounters.reservation(held, now: now)))
            }
            .flatMapErrorThrowing { error in
                logger.error("redis spend counters unavailable; the call goes ahead unchecked", metadata: ["error": "\(error)"])
                return .done(.success(SpendCounters.Reservation.empty))
            }
    }

    func settle(_ r: SpendCounters.Reservation, tokens: Int, costMicros: Int64, budgets: [LLMBudget], on eventLoop: EventLoop) -> EventLoopFuture<[SpendCounters.Alert]> {
        guard case .redis(let holds) = r.holds, !holds.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        var args: [String] = []
        var budgetOf: [LLMBudget?] = []
        for h in holds {
            let used: Int64 = switch h.unit {
            case .tokens: Int64(tokens)
            case .requests: 1
            case .micros: costMicros
            }
            let b = h.budget(in: budgets)
            budgetOf.append(b)
            let threshold = b?.softAlertAt.map { Int64(($0 * Double(b!.microUSD)).rounded(.up)) } ?? -1
            args += [String(h.amount), String(used), String(threshold)]
        }
        let logger = self.logger, windowBudgets = budgetOf
        return store.script(Self.settleScript, sha: Self.settleSHA, keys: holds.map { Self.redisKey($0.key, start: $0.start) }, args: args, on: eventLoop)
            .map { reply -> [SpendCounters.Alert] in
                guard case .array(let items?) = reply else { return [] }
                var alerts: [SpendCounters.Alert] = []
                for pair in stride(from: 0, to: items.count - 1, by: 2) {
                    guard let i = items[pair].int, i >= 1, i <= windowBudgets.count, let b = windowBudgets[i - 1] else { continue }
                    alerts.append(SpendCounters.Alert(budget: "\(b.subject.rawValue) \(b.name) (\(b.period.rawValue))",
                                                      spentMicros: Int64(items[pair + 1].int ?? 0), ceilingMicros: b.microUSD, webhook: b.webhook))
                }
                return alerts
            }
            .flatMapErrorThrowing { error in
                logger.error("redis spend counters could not settle a call", metadata: ["error": "\(error)"])
                return []
            }
    }
}
