import GatewayCore
import NIOCore
import NIOHTTP1
import Testing

@testable import LLMRouting

@Suite struct SpendCountersTests {
    static let day: Int64 = Int64(CivilDate.daysFromCivil(year: 2026, month: 11, day: 23)) * 86_400_000  // a Monday

    func budget(_ usd: Int64, _ period: LLMBudget.Period = .month, soft: Double? = nil) -> LLMBudget {
        var b = LLMBudget()
        b.subject = .team
        b.name = "growth"
        b.microUSD = usd
        b.period = period
        b.softAlertAt = soft
        return b
    }

    func call(cost: Int64, tokens: Int = 100, team: String = "growth") -> SpendRequest {
        SpendRequest(consumer: "web", team: team, key: nil, model: "smart", tokens: tokens, costMicros: cost)
    }

    @Test func budgetsReserveTheWorstCaseAndSettleWhatWasUsed() throws {
        let c = SpendCounters()
        let b = budget(1_000_000, soft: 0.5)
        let rules = SpendRules(budgets: [b])
        let r1 = try c.reserve(call(cost: 600_000), rules: rules, now: Self.day).get()
        #expect(r1.headers.contains { $0 == ("x-triplegate-budget-remaining-usd", "0.400000") })
        // The worst case of a second call does not fit beside the first's reservation.
        guard case .failure(let refusal) = c.reserve(call(cost: 600_000), rules: rules, now: Self.day) else { Issue.record("not refused"); return }
        #expect(refusal.kind == .budget && refusal.message.contains("$0.400000 left of $1.000000"))
        // The first used less than it reserved: the rest is free again; the soft alert fires once.
        let alerts = c.settle(r1, tokens: 50, costMicros: 550_000, rules: rules)
        #expect(alerts == [SpendCounters.Alert(budget: "team growth (month)", spentMicros: 550_000, ceilingMicros: 1_000_000, webhook: nil)])
        let r2 = try c.reserve(call(cost: 400_000), rules: rules, now: Self.day).get()
        #expect(c.settle(r2, tokens: 1, costMicros: 100_000, rules: rules).isEmpty)
        #expect(c.spent(b, now: Self.day)! == (650_000, 0))
        // Other teams are not charged.
        #expect((try? c.reserve(call(cost: 900_000, team: "search"), rules: rules, now: Self.day).get()) != nil)
    }

    @Test func aSoftAlertFindsItsBudgetByPositionOrAfterAReloadByKey() throws {
        var other = budget(5_000_000, .day, soft: 0.1)
        other.name = "search"
        let b = budget(1_000_000, soft: 0.5)
        for settledWith in [[other, b], [b], [budget(9, .week), other, b]] {
            let c = SpendCounters()
            let r = try c.reserve(call(cost: 600_000), rules: SpendRules(budgets: [other, b]), now: Self.day).get()
            // The call's check remembers position 1; a reload may have moved or dropped others.
            let alerts = c.settle(r, tokens: 50, costMicros: 600_000, rules: SpendRules(budgets: settledWith))
            #expect(alerts.map(\.budget) == ["team growth (month)"], "\(settledWith.map(\.name))")
        }
        // `budget(_:has:)` says what `budgetKey` would.
        for x in [b, other, budget(1_000_000, .week), budget(1_000_000, .fixed)] {
            for y in [b, other, budget(1_000_000, .week), budget(1_000_000, .fixed)] {
                #expect(SpendCounters.budget(x, has: SpendCounters.budgetKey(y)) == (SpendCounters.budgetKey(x) == SpendCounters.budgetKey(y)))
            }
        }
    }

    @Test func hundredConcurrentCallsCannotOverspend() async throws {
        let c = SpendCounters()
        let b = budget(10_000_000)
        let rules = SpendRules(budgets: [b])
        c.seed(key: SpendCounters.budgetKey(b), start: SpendCounters.window(of: b, at: Self.day)!.0, used: 9_500_000)  // nearly spent
        let worst: Int64 = 120_000
        let admitted = await withTaskGroup(of: SpendCounters.Reservation?.self) { group in
            for _ in 0..<100 { group.addTask { try? c.reserve(self.call(cost: worst), rules: rules, now: Self.day).get() } }
            var out: [SpendCounters.Reservation] = []
            for await r in group { if let r { out.append(r) } }
            return out
        }
        #expect(admitted.count == 4)  // 4 × 0.12 fits in the 0.5 left; a fifth does not
        for r in admitted { c.settle(r, tokens: 10, costMicros: worst, rules: rules) }
        #expect(c.spent(b, now: Self.day)!.used <= b.microUSD)
    }

    @Test func calendarWindows() {
        let tue = Self.day + 86_400_000 + 3_600_000
        #expect(SpendCounters.window(of: budget(1, .week), at: tue)!.0 == Self.day)  // weeks start on Monday
        #expect(SpendCounters.window(of: budget(1, .day), at: tue)! == (Self.day + 86_400_000, Self.day + 2 * 86_400_000))
        let nov = Int64(CivilDate.daysFromCivil(year: 2026, month: 11, day: 1)) * 86_400_000
        let dec = Int64(CivilDate.daysFromCivil(year: 2026, month: 12, day: 1)) * 86_400_000
        #expect(SpendCounters.window(of: budget(1, .month), at: tue)! == (nov, dec))
        #expect(SpendCounters.window(of: budget(1, .month), at: dec - 1)! == (nov, dec))
        var fixed = budget(1, .fixed)
        fixed.from = Self.day
        fixed.to = Self.day + 86_400_000
        #expect(SpendCounters.window(of: fixed, at: Self.day - 1) == nil)
        #expect(SpendCounters.window(of: fixed, at: Self.day) != nil)
        #expect(CivilDate.civil(fromDays: CivilDate.daysFromCivil(year: 2024, month: 2, day: 29)) == (2024, 2, 29))
    }

    @Test func tokenAndRequestLimitsPerMinute() throws {
        let c = SpendCounters()
        var l = LLMTokenLimit()
        l.by = .consumer
        l.tokensPerMinute = 1000
        l.requestsPerMinute = 3
        let rules = SpendRules(limits: [l])
        let t0 = Self.day + 5_000
        let r = try c.reserve(call(cost: 0, tokens: 600), rules: rules, now: t0).get()
        #expect(r.headers.map(\.0) == ["x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
                                       "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"])
        #expect(r.headers[1].1 == "400" && r.headers[2].1 == "55s" && r.headers[4].1 == "2")
        guard case .failure(let refusal) = c.reserve(call(cost: 0, tokens: 600), rules: rules, now: t0) else { Issue.record("not refused"); return }
        #expect(refusal.kind == .tokens && refusal.resetMillis == 55_000)
        c.settle(r, tokens: 150, costMicros: 0, rules: rules)
        _ = try c.reserve(call(cost: 0, tokens: 600), rules: rules, now: t0).get()
        _ = try c.reserve(call(cost: 0, tokens: 10), rules: rules, now: t0).get()
        guard case .failure(let requests) = c.reserve(call(cost: 0, tokens: 10), rules: rules, now: t0) else { Issue.record("not refused"); return }
        #expect(requests.kind == .requests)
        // The next minute starts fresh.
        #expect((try? c.reserve(call(cost: 0, tokens: 900), rules: rules, now: Self.day + 60_000).get()) != nil)
        #expect(SpendCounters.resetText(3_723_000) == "1h2m3s" && SpendCounters.resetText(360_000) == "6m0s" && SpendCounters.resetText(1) == "1s")
        #expect(SpendCounters.resetText(3_600_000) == "1h0m0s" && SpendCounters.resetText(59_001) == "1m0s" && SpendCounters.resetText(-5) == "1s")
    }

    /// The spend headers as the HTTP/1 head's bytes, as a list and as `HTTPHeaders` say the
    /// same, within the bytes they announce; a room with nothing left reads 0, never negative.
    @Test func roomsWrittenAsBytesMatchTheList() throws {
        var rooms = SpendCounters.Rooms()
        rooms.add(.init(ceiling: 9_223_372_036_854_775_807, left: 9_223_372_036_854_775_807, reset: 86_399_001_000), unit: .tokens)
        rooms.add(.init(ceiling: 3, left: -2, reset: 1), unit: .requests)
        rooms.add(.init(ceiling: 0, left: 123_456_789_012_345, reset: 0), unit: .micros)
        var list: [(String, String)] = []
        rooms.appendHeaders(to: &list)
        #expect(list.map(\.1) == ["9223372036854775807", "9223372036854775807", "23999h43m21s", "3", "0", "1s", "123456789.012345"])
        var out = ByteBuffer()
        rooms.write(into: &out)
        #expect(String(buffer: out) == list.map { "\($0): \($1)\r\n" }.joined())
        #expect(out.readableBytes <= rooms.byteCount)
        var headers = HTTPHeaders()
        rooms.add(to: &headers)
        #expect(headers.map { "\($0.name)=\($0.value)" } == list.map { "\($0)=\($1)" })
        var none = ByteBuffer()
        SpendCounters.Rooms().write(into: &none)
        #expect(none.readableBytes == 0 && SpendCounters.Rooms().byteCount == 0)
    }

    /// A call reserved in one minute and settled after the window moved on is not charged to
    /// the new minute, and gives back nothing there.
    @Test func aCallSettledAfterItsWindowRolledOverLeavesTheNewWindowAlone() throws {
        let c = SpendCounters()
        var l = LLMTokenLimit()
        l.by = .consumer
        l.tokensPerMinute = 1000
        let rules = SpendRules(limits: [l])
        let old = try c.reserve(call(cost: 0, tokens: 700), rules: rules, now: Self.day + 59_000).get()
        let next = try c.reserve(call(cost: 0, tokens: 900), rules: rules, now: Self.day + 61_000).get()
        #expect(next.headers[1].1 == "100")
        c.settle(old, tokens: 700, costMicros: 0, rules: rules)
        // Still 100 left in the new minute: the old call neither used nor freed any of it.
        guard case .failure = c.reserve(call(cost: 0, tokens: 101), rules: rules, now: Self.day + 62_000) else { Issue.record("not refused"); return }
        let last = try c.reserve(call(cost: 0, tokens: 100), rules: rules, now: Self.day + 62_000).get()
        #expect(last.headers[1].1 == "0")
    }

    /// A caller's plan is made once per rules; a reload's new rules keep the counts (counters
    /// are named by their rule, not by the plan), apply a changed ceiling at once, and a call
    /// still running on the old rules counts in the same windows.
    @Test func aReloadKeepsWhatWasSpentAndAppliesTheNewCeiling() throws {
        let c = SpendCounters()
        let old = SpendRules(budgets: [budget(1_000_000)])
        let held = try c.reserve(call(cost: 300_000), rules: old, now: Self.day).get()
        c.settle(try c.reserve(call(cost: 300_000), rules: old, now: Self.day).get(), tokens: 1, costMicros: 200_000, rules: old)
        let new = SpendRules(budgets: [budget(700_000)])
        // 200,000 used and 300,000 still reserved by the call in flight: 200,000 left of the new 700,000.
        let r = try c.reserve(call(cost: 200_000), rules: new, now: Self.day).get()
        #expect(r.headers.contains { $0 == ("x-triplegate-budget-remaining-usd", "0.000000") })
        guard case .failure = c.reserve(call(cost: 1), rules: new, now: Self.day) else { Issue.record("not refused"); return }
        // The call from before the reload settles in the same window, on the old rules' plan.
        c.settle(held, tokens: 1, costMicros: 100_000, rules: new)
        c.settle(r, tokens: 1, costMicros: 100_000, rules: new)
        #expect(c.spent(budget(700_000), now: Self.day)! == (400_000, 0))
        // A late call on the old rules still counts against the same window.
        c.settle(try c.reserve(call(cost: 50_000), rules: old, now: Self.day).get(), tokens: 1, costMicros: 50_000, rules: old)
        #expect(c.spent(budget(700_000), now: Self.day)! == (450_000, 0))
    }

    /// A plan keeps each counter's period until the clock leaves it: a fixed budget that has not
    /// started yet applies once it has and stops when it ends, and a month's spend starts over
    /// on the first of the next.
    @Test func aPlansPeriodsFollowTheClock() throws {
        let c = SpendCounters()
        var fixed = budget(500_000, .fixed)
        fixed.from = Self.day + 3_600_000
        fixed.to = Self.day + 7_200_000
        let month = budget(1_000_000)
        let rules = SpendRules(budgets: [fixed, month])
        let before = try c.reserve(call(cost: 600_000), rules: rules, now: Self.day).get()
        #expect(before.headers.contains { $0 == ("x-triplegate-budget-remaining-usd", "0.400000") })  // the month's room only
        c.settle(before, tokens: 1, costMicros: 0, rules: rules)
        guard case .failure(let refusal) = c.reserve(call(cost: 600_000), rules: rules, now: Self.day + 3_600_000) else { Issue.record("not refused"); return }
        #expect(refusal.message.contains("fixed budget") && refusal.resetMillis == 3_600_000)
        let after = try c.reserve(call(cost: 600_000), rules: rules, now: Self.day + 7_200_000).get()  // it has ended
        c.settle(after, tokens: 1, costMicros: 0, rules: rules)
        let dec = Int64(CivilDate.daysFromCivil(year: 2026, month: 12, day: 1)) * 86_400_000
        let late = try c.reserve(call(cost: 900_000), rules: rules, now: dec - 1).get()
        #expect(late.headers.contains { $0 == ("x-triplegate-budget-remaining-usd", "0.100000") })
        c.settle(late, tokens: 1, costMicros: 900_000, rules: rules)
        let next = try c.reserve(call(cost: 900_000), rules: rules, now: dec).get()
        #expect(next.headers.contains { $0 == ("x-triplegate-budget-remaining-usd", "0.100000") })
        #expect(c.spent(month, now: dec)! == (0, 900_000))
    }
}
