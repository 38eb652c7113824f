/// Limits retries to a share of requests, as Envoy's and Finagle's retry budgets do, so a
/// failing upstream sees at most `1 + ratio` times its normal load instead of `1 + attempts`.
/// A small reserve per second lets a quiet service still retry. Time comes from the caller.
///
/// The balance is kept in thousandths of a retry, in integers: summing a `Double` ratio drifts
/// (0.2 added ten times is 1.9999…, one retry short).
package struct RetryBudget: Sendable {
    package let ratio: Double
    package let minPerSecond: Int
    private let earnPerRequest: Int
    private var balance = 0
    private var reserveSecond: Int64 = .min
    private var reserveLeft = 0
    /// The most banked retries (in thousandths): a long quiet period cannot bank a retry storm.
    private let cap: Int

    package init(ratio: Double, minPerSecond: Int) {
        self.ratio = ratio
        self.minPerSecond = minPerSecond
        self.earnPerRequest = Int((ratio * 1000).rounded())
        self.cap = max(10, Int((ratio * 1000).rounded())) * 1000
    }

    /// Every first attempt earns `ratio` of a retry.
    package mutating func recordRequest() {
        balance = min(balance + earnPerRequest, cap)
    }

    /// Takes one retry if the budget allows; `nowNanos` is a monotonic time.
    package mutating func tryRetry(nowNanos: Int64) -> Bool {
        let second = nowNanos / 1_000_000_000
        if second != reserveSecond {
            reserveSecond = second
            reserveLeft = minPerSecond
        }
        if reserveLeft > 0 {
            reserveLeft -= 1
            return true
        }
        if balance >= 1000 {
            balance -= 1000
            return true
        }
        return false
    }
}
