import GatewayCore
import Testing

let second: Int64 = 1_000_000_000

@Suite struct SlidingWindowCounterTests {
    @Test func allowsTheLimitThenRefusesWithRetryAfter() {
        var w = SlidingWindowCounter(limit: 3, window: .seconds(60))
        let t = 600 * second  // a window boundary
        let d = (0..<4).map { _ in w.take(now: t + second) }
        #expect(d.map(\.allowed) == [true, true, true, false])
        #expect(d.map(\.remaining) == [2, 1, 0, 0])
        #expect(d[3].resetSeconds == 59)
        #expect(d[3].retryAfterSeconds == 59)
    }

    @Test func thePreviousWindowWeighsLessAsItSlidesOut() {
        var w = SlidingWindowCounter(limit: 10, window: .seconds(60))
        let t = 600 * second
        for _ in 0..<10 { _ = w.take(now: t + 30 * second) }
        // 15 s into the next window, 75% of the previous 10 still count: 7.5, so 2 more fit.
        let next = t + 75 * second
        let d = (0..<3).map { _ in w.take(now: next) }
        #expect(d.map(\.allowed) == [true, true, false])
        // Retry when enough of the previous window has slid out: (9.5 + 1 - 10) / 10 of 60 s = 3 s.
        #expect(d[2].retryAfterSeconds == 3)
        // A window later the old requests no longer count at all.
        let later = w.take(now: t + 180 * second)
        #expect(later.allowed && later.remaining == 9)
    }

    @Test func costsLargerThanOneAreCounted() {
        var w = SlidingWindowCounter(limit: 100, window: .seconds(60))
        #expect(w.take(cost: 60, now: 0).allowed)
        #expect(!w.take(cost: 41, now: 1).allowed)
        #expect(w.take(cost: 40, now: 2).allowed)
    }
}

@Suite struct TokenBucketTests {
    @Test func aBurstUpToCapacityThenRefusal() {
        var b = TokenBucket(capacity: 5, rate: 1, period: .seconds(1))
        let d = (0..<6).map { _ in b.take(now: 0) }
        #expect(d.map(\.allowed) == [true, true, true, true, true, false])
        #expect(d[5].retryAfterSeconds == 1)
        #expect(d[5].resetSeconds == 5)
    }

    @Test func tokensReturnAtTheRateAndNeverPastCapacity() {
        var b = TokenBucket(capacity: 5, rate: 2, period: .seconds(1))
        for _ in 0..<5 { _ = b.take(now: 0) }
        let half = b.take(now: second / 2)  // one token back
        #expect(half.allowed)
        let none = b.take(now: second / 2)
        #expect(!none.allowed)
        let afterLongIdle = b.take(now: 3600 * second)
        #expect(afterLongIdle.allowed && afterLongIdle.remaining == 4)
    }

    @Test func slowTrickleNeverLosesFractions() {
        // 1 token per 3 s, checked every second: exactly one allowed per 3 s once empty.
        var b = TokenBucket(capacity: 1, rate: 1, period: .seconds(3))
        _ = b.take(now: 0)
        var allowed = 0
        for s in 1...30 where b.take(now: Int64(s) * second).allowed { allowed += 1 }
        #expect(allowed == 10)
    }
}
