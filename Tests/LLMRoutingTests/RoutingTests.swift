import Foundation
import NIOHTTP1
import Testing

@testable import LLMRouting

@Suite struct RetryAfterTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func millisecondsWinThenSecondsThenDates() {
        #expect(RetryAfter.delay(in: ["retry-after-ms": "1500.2", "retry-after": "9"], now: now) == .milliseconds(1501))
        #expect(RetryAfter.delay(in: ["retry-after": "20"], now: now) == .seconds(20))
        #expect(RetryAfter.delay(in: ["retry-after": "Fri, 15 Jan 2027 08:00:30 GMT"], now: Date(timeIntervalSince1970: 1_800_000_000)) != nil)
        let date = RetryAfter.httpDate("Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(date?.timeIntervalSince1970 == 784_111_777)
        #expect(RetryAfter.delay(in: ["retry-after": "Sun, 06 Nov 1994 08:49:37 GMT"], now: Date(timeIntervalSince1970: 784_111_767)) == .seconds(10))
        #expect(RetryAfter.delay(in: ["retry-after": "Sun, 06 Nov 1994 08:49:37 GMT"], now: now) == .zero)  // in the past
        for bad in ["-3", "soon", "1.5", ""] {
            #expect(RetryAfter.delay(in: ["retry-after": bad], now: now) == nil, "\(bad)")
        }
        #expect(RetryAfter.delay(in: ["retry-after-ms": "-1"], now: now) == nil)
        #expect(RetryAfter.delay(in: [:], now: now) == nil)
    }
}

@Suite struct DeploymentHealthTests {
    let second: Int64 = 1_000_000_000

    @Test func coolsAfterConsecutiveFailuresAndReturns() {
        var h = DeploymentHealth(failures: 3, cooldown: .seconds(30))
        h.recordFailure(now: 0)
        h.recordFailure(now: 1 * second)
        #expect(h.isAvailable(now: 2 * second))
        h.recordSuccess()  // the count is of consecutive failures
        h.recordFailure(now: 3 * second)
        h.recordFailure(now: 4 * second)
        #expect(h.isAvailable(now: 5 * second))
        h.recordFailure(now: 5 * second)
        #expect(!h.isAvailable(now: 5 * second))
        #expect(!h.isAvailable(now: 34 * second))
        #expect(h.isAvailable(now: 35 * second))
        // Half-open: one failure after the cooldown takes it straight back out.
        h.recordFailure(now: 36 * second)
        #expect(!h.isAvailable(now: 37 * second))
        #expect(h.isAvailable(now: 66 * second))
        h.recordSuccess()
        h.recordFailure(now: 67 * second)
        #expect(h.isAvailable(now: 68 * second))
    }

    @Test func aLongerRetryAfterIsBelieved() {
        var h = DeploymentHealth(failures: 3, cooldown: .seconds(30))
        h.recordFailure(now: 0, retryAfter: .seconds(5))  // shorter than the cooldown: only counted
        #expect(h.isAvailable(now: 1))
        h.recordFailure(now: 0, retryAfter: .seconds(90))
        #expect(!h.isAvailable(now: 60 * second))
        #expect(h.isAvailable(now: 90 * second))
    }
}
