import Gateway
import GatewayCore
import NIOHTTP1
import Testing

/// A deterministic random source for backoff jitter.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(config: RetryConfig())

    func decide(_ f: AttemptFailure, attempt: Int = 1, _ m: HTTPMethod = .GET, replayable: Bool = true, budget: Bool = true, policy: RetryPolicy? = nil) -> RetryPolicy.Decision {
        var rng = SeededRandom(state: 1)
        return (policy ?? self.policy).decide(f, attempt: attempt, method: m, replayable: replayable, budgetAllows: { budget }, random: &rng)
    }

    func isRetry(_ d: RetryPolicy.Decision) -> Bool { if case .retry = d { return true } else { return false } }

    @Test func connectFailuresRetryForAnyMethod() {
        #expect(isRetry(decide(.connect, .POST)))
        #expect(isRetry(decide(.connect, .GET)))
    }

    @Test func statusesRetryOnlyForIdempotentMethods() {
        #expect(isRetry(decide(.status(503), .GET)))
        #expect(isRetry(decide(.status(502), .PUT)))
        #expect(decide(.status(503), .POST) == .giveUp)
        #expect(decide(.status(500), .GET) == .giveUp)  // not listed by default
    }

    @Test func closedEarlyRetriesOnlyIdempotentRequests() {
        #expect(isRetry(decide(.closedEarly, .GET)))
        #expect(decide(.closedEarly, .POST) == .giveUp)
    }

    @Test func timeoutsRetryOnlyWhenListed() {
        #expect(decide(.timeout, .GET) == .giveUp)
        var c = RetryConfig()
        c.on.timeout = true
        #expect(isRetry(decide(.timeout, .GET, policy: RetryPolicy(config: c))))
    }

    @Test func attemptsBudgetAndReplayabilityEachStopRetries() {
        #expect(decide(.connect, attempt: 3) == .giveUp)  // attempts: 2 extra
        #expect(isRetry(decide(.connect, attempt: 2)))
        #expect(decide(.connect, budget: false) == .giveUp)
        #expect(decide(.status(503), replayable: false) == .giveUp)
    }

    @Test func backoffIsJitteredBelowAnExponentialCeiling() {
        var rng = SeededRandom(state: 7)
        for attempt in 1...6 {
            let ceiling = min(250.0, 25.0 * Double(1 << (attempt - 1)))
            for _ in 0..<100 {
                let d = policy.backoff(attempt: attempt, random: &rng)
                #expect(d >= .zero && d < .milliseconds(Int64(ceiling)))
            }
        }
    }
}

@Suite struct RetryBudgetTests {
    @Test func reserveAllowsMinPerSecondThenRatioApplies() {
        var b = RetryBudget(ratio: 0.2, minPerSecond: 2)
        let t0: Int64 = 5_000_000_000
        var results: [Bool] = []
        for k in 0..<3 { results.append(b.tryRetry(nowNanos: t0 + Int64(k))) }
        #expect(results == [true, true, false])  // reserve spent, nothing banked
        for _ in 0..<10 { b.recordRequest() }  // 10 requests earn 2 retries
        results = (3..<6).map { b.tryRetry(nowNanos: t0 + Int64($0)) }
        #expect(results == [true, true, false])
        let nextSecond = b.tryRetry(nowNanos: t0 + 1_000_000_000)
        #expect(nextSecond)  // the reserve refills each second
    }

    @Test func aLongQuietPeriodCannotBankARetryStorm() {
        var b = RetryBudget(ratio: 0.2, minPerSecond: 0)
        for _ in 0..<1_000_000 { b.recordRequest() }
        var allowed = 0
        while b.tryRetry(nowNanos: 0) { allowed += 1 }
        #expect(allowed == 200)
    }
}

@Suite struct ExchangeDeadlinesTests {
    @Test func perTryComesFirstUntilTotalIsCloser() {
        let d = ExchangeDeadlines(start: 0, perTry: .seconds(2), total: .seconds(5))
        #expect(d.deadline(attemptStart: 0) == (2_000_000_000, .perTry))
        #expect(d.deadline(attemptStart: 2_100_000_000) == (4_100_000_000, .perTry))
        #expect(d.deadline(attemptStart: 4_000_000_000) == (5_000_000_000, .total))
    }

    @Test func noAttemptStartsPastTheTotal() {
        let d = ExchangeDeadlines(start: 0, perTry: .seconds(2), total: .seconds(5))
        #expect(d.allowsAttempt(at: 4_000_000_000, after: 500_000_000))
        #expect(!d.allowsAttempt(at: 4_900_000_000, after: 200_000_000))
    }
}
