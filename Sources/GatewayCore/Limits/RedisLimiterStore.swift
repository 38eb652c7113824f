import Crypto
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Sliding-window counters and token buckets in Redis, shared by every gateway that points at
/// it: one Lua script per decision checks every window and counts only if all allow, atomically, on Redis's clock
/// (so replicas never disagree about which window it is). One connection per event loop.
package final class RedisLimiterStore: Sendable {
    /// Where Redis is and how to log in.
    package let url: RedisURL
    /// How long a decision may take before the store counts as down.
    package let timeout: TimeAmount
    private let clients = NIOLockedValueBox<[ObjectIdentifier: LoopRedisClient]>([:])

    static let script = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local cost = tonumber(ARGV[#ARGV])
        local n = (#ARGV - 1) / 2
        local best_remaining, best_limit, best_reset = nil, 0, 0
        local counted = {}
        for i = 1, n do
          local limit = tonumber(ARGV[2 * i - 1])
          local window = tonumber(ARGV[2 * i])
          local start = now - (now % window)
          local cur_key = KEYS[1] .. ':' .. window .. ':' .. start
          local prev_key = KEYS[1] .. ':' .. window .. ':' .. (start - window)
          local cur = tonumber(redis.call('GET', cur_key) or '0')
          local prev = tonumber(redis.call('GET', prev_key) or '0')
          local elapsed = now - start
          local estimate = prev * (window - elapsed) / window + cur
          local reset = window - elapsed
          if estimate + cost > limit then
            local wait = reset
            if cur + cost <= limit and prev > 0 then
              local w = math.ceil((estimate + cost - limit) / prev * window)
              if w < wait then wait = w end
            end
            return {0, limit, 0, reset, wait}
          end
          local remaining = math.floor(limit - estimate - cost)
          if best_remaining == nil or remaining < best_remaining then
            best_remaining, best_limit, best_reset = remaining, limit, reset
          end
          counted[i] = {cur_key, window}
        end
        for i = 1, n do
          redis.call('INCRBY', counted[i][1], cost)
          redis.call('PEXPIRE', counted[i][1], counted[i][2] * 2)
        end
        return {1, best_limit, best_remaining, best_reset, 0}
        """
    static let scriptSHA = sha1(script)

    /// Token buckets: per window, a hash of tokens and the time they were counted, refilled at
    /// `limit` per window up to `burst`. Same reply shape as the sliding-window script.
    static let bucketScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
        local cost = tonumber(ARGV[#ARGV])
        local n = (#ARGV - 1) / 3
        local best_remaining, best_limit, best_reset = nil, 0, 0
        local keep = {}
        for i = 1, n do
          local cap = tonumber(ARGV[3 * i - 2])
          local rate = tonumber(ARGV[3 * i - 1])
          local period = tonumber(ARGV[3 * i])
          local key = KEYS[1] .. ':tb:' .. cap .. ':' .. rate .. ':' .. period
          local v = redis.call('HMGET', key, 'tokens', 'at')
          local tokens, at = tonumber(v[1]), tonumber(v[2])
          if tokens == nil or at == nil then tokens, at = cap, now end
          if now > at then
            tokens = math.min(cap, tokens + (now - at) * rate / period)
            at = now
          end
          if tokens < cost then
            local wait = math.ceil((cost - tokens) * period / rate)
            local reset = math.ceil((cap - tokens) * period / rate)
            return {0, cap, 0, reset, wait}
          end
          local left = tokens - cost
          local remaining = math.floor(left)
          local reset = math.ceil((cap - left) * period / rate)
          if best_remaining == nil or remaining < best_remaining then
            best_remaining, best_limit, best_reset = remaining, cap, reset
          end
          keep[i] = {key, left, math.ceil(cap * period / rate) * 2 + 1000}
        end
        for i = 1, n do
          redis.call('HSET', keep[i][1], 'tokens', tostring(keep[i][2]), 'at', tostring(now))
          redis.call('PEXPIRE', keep[i][1], keep[i][3])
        end
        return {1, best_limit, best_remaining, best_reset, 0}
        """
    static let bucketScriptSHA = sha1(bucketScript)

    static func sha1(_ text: String) -> String {
        Insecure.SHA1.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    package init(url: RedisURL, timeout: TimeAmount = .milliseconds(250)) {
        self.url = url
        self.timeout = timeout
    }

    /// Counts `cost` against every window of `key`; fails when Redis cannot answer in time.
    /// Takes `cost` tokens from a bucket per window (`burst` deep, refilled at the window's limit).
    package func takeTokens(_ key: String, windows: [(limit: Int, window: Duration)], burst: Int?, cost: Int = 1,
                           on eventLoop: EventLoop) -> EventLoopFuture<RateLimitDecision> {
        var args = [Self.bucketScriptSHA, "1", key]
        for w in windows { args += [String(burst ?? w.limit), String(w.limit), String(w.window.nanoseconds / 1_000_000)] }
        args.append(String(cost))
        return run(args, script: Self.bucketScript, on: eventLoop)
    }

    package func take(_ key: String, windows: [(limit: Int, window: Duration)], cost: Int = 1, on eventLoop: EventLoop) -> EventLoopFuture<RateLimitDecision> {
        var args = [Self.scriptSHA, "1", key]
        for w in windows { args += [String(w.limit), String(w.window.nanoseconds / 1_000_000)] }
        args.append(String(cost))
        return run(args, script: Self.script, on: eventLoop)
    }

    private func run(_ command: [String], script: String, on eventLoop: EventLoop) -> EventLoopFuture<RateLimitDecision> {
        evaluate(command, script: script, on: eventLoop).flatMapThrowing { try Self.decision($0) }
    }

    /// Runs a Lua script (EVALSHA, loading it on first use) on this loop's connection, with the
    /// store's timeout. For other counters that must change atomically across replicas.
    package func script(_ script: String, sha: String, keys: [String], args: [String], on eventLoop: EventLoop) -> EventLoopFuture<RESPValue> {
        evaluate([sha, String(keys.count)] + keys + args, script: script, on: eventLoop)
    }

    /// The SHA-1 a script is known by (EVALSHA).
    package static func scriptSHA(_ script: String) -> String { sha1(script) }

    private func evaluate(_ command: [String], script: String, on eventLoop: EventLoop) -> EventLoopFuture<RESPValue> {
        let client = clients.withLockedValue { all -> LoopRedisClient in
            if let c = all[ObjectIdentifier(eventLoop)] { return c }
            let c = LoopRedisClient(eventLoop: eventLoop, url: url)
            all[ObjectIdentifier(eventLoop)] = c
            return c
        }
        let promise = eventLoop.makePromise(of: RESPValue.self)
        let timer = eventLoop.scheduleTask(in: timeout) { promise.fail(RedisError.timeout) }
        eventLoop.execute {
            client.evaluate(args: command, script: script).whenComplete { result in
                timer.cancel()
                promise.completeWith(result)
            }
        }
        return promise.futureResult
    }

    static func decision(_ reply: RESPValue) throws -> RateLimitDecision {
        guard case .array(let items?) = reply, items.count == 5, let allowed = items[0].int, let limit = items[1].int,
              let remaining = items[2].int, let resetMS = items[3].int, let waitMS = items[4].int
        else { throw RedisError.protocolViolation("unexpected limiter reply \(reply)") }
        let reset = secondsRoundedUp(Int64(resetMS) * 1_000_000)
        return RateLimitDecision(allowed: allowed == 1, limit: limit, remaining: max(0, remaining), resetSeconds: reset,
                                 retryAfterSeconds: allowed == 1 ? nil : max(1, secondsRoundedUp(Int64(waitMS) * 1_000_000)))
    }
}

/// The Redis connection of one event loop: made on first use, made again after it drops, and
/// not retried for a second after a failed connect (so a dead Redis costs one fast failure per
/// request, not a connect timeout each).
final class LoopRedisClient: @unchecked Sendable {
    // @unchecked: every field is touched only on `eventLoop` (calls arrive through `execute`).
    let eventLoop: EventLoop
    let url: RedisURL
    private var connection: RedisConnection?
    private var connecting: EventLoopFuture<RedisConnection>?
    private var failedAt: NIODeadline?

    init(eventLoop: EventLoop, url: RedisURL) {
        self.eventLoop = eventLoop
        self.url = url
    }

    /// EVALSHA, loading the script with EVAL when Redis does not know it yet.
    func evaluate(args: [String], script: String) -> EventLoopFuture<RESPValue> {
        connected().flatMap { c in
            c.send(["EVALSHA"] + args).flatMapError { error in
                if case RedisError.server(let message) = error, message.hasPrefix("NOSCRIPT") {
                    return c.send(["EVAL", script] + args.dropFirst())
                }
                return self.eventLoop.makeFailedFuture(error)
            }
        }
    }

    private func connected() -> EventLoopFuture<RedisConnection> {
        if let connection, connection.isActive { return eventLoop.makeSucceededFuture(connection) }
        if let connecting { return connecting }
        if let failedAt, NIODeadline.now() - failedAt < .seconds(1) {
            return eventLoop.makeFailedFuture(RedisError.connectionFailed("recently unreachable"))
        }
        let future = RedisConnection.connect(url, on: eventLoop, timeout: .milliseconds(250))
        connecting = future
        future.whenComplete { result in
            self.connecting = nil
            switch result {
            case .success(let c):
                self.connection = c
                self.failedAt = nil
            case .failure:
                self.connection = nil
                self.failedAt = .now()
            }
        }
        return future
    }
}
