import GatewayCore
import NIOConcurrencyHelpers

/// Who a call is charged to, and what it may cost at most.
public struct SpendRequest: Sendable {
    public var consumer: String?
    public var team: String?
    public var key: String?
    public var model: String
    /// Prompt estimate plus the output ceiling.
    public var tokens: Int
    /// The worst case at the model's prices, micro-USD.
    public var costMicros: Int64

    public init(consumer: String?, team: String?, key: String?, model: String, tokens: Int, costMicros: Int64) {
        self.consumer = consumer
        self.team = team
        self.key = key
        self.model = model
        self.tokens = tokens
        self.costMicros = costMicros
    }
}

/// Why a call was refused before any provider was asked.
public struct SpendRefusal: Error, Sendable, Equatable {
    public enum Kind: String, Sendable { case tokens, requests, budget }
    public var kind: Kind
    public var message: String
    /// Milliseconds until the window that refused resets.
    public var resetMillis: Int64
}

/// The counters that limits and budgets are checked against: in memory, one lock, windows keyed
/// by rule and subject. A call reserves its worst case in every window that applies, all or
/// nothing under the lock, so concurrent calls cannot together pass a limit; when it ends the
/// reservation is replaced by what it really used. The ledger is never read on the request
/// path: `seed` loads the current windows from it at start-up. Pure: time comes in.
public final class SpendCounters: Sendable {
    /// One counter's current window. A class so that a reservation holds the counters it
    /// touched and settles them without looking them up again; its fields change only under
    /// the counters' lock.
    final class Window: @unchecked Sendable {
        var start: Int64
        var used: Int64 = 0
        var reserved: Int64 = 0
        var alerted = false

        init(start: Int64) { self.start = start }

        /// Starts over when a call is counted in another window than the one held.
        func roll(to start: Int64) {
            guard self.start != start else { return }
            self.start = start
            used = 0
            reserved = 0
            alerted = false
        }
    }

    /// Names a counter without building a string per call: the rule (by position for limits,
    /// by content for budgets, so a reload that keeps a budget keeps its spend), the subject
    /// and the model.
    public struct CounterKey: Hashable, Sendable {
        public enum Kind: UInt8, Sendable {
            case tpm, rpm, tpd, rpd, budgetDay, budgetWeek, budgetMonth, budgetFixed

            var unit: Unit {
                switch self {
                case .tpm, .tpd: .tokens
                case .rpm, .rpd: .requests
                case .budgetDay, .budgetWeek, .budgetMonth, .budgetFixed: .micros
                }
            }

            /// The window in words: the limit, or the budget's period.
            var label: String {
                switch self {
                case .tpm: "tokens per minute"
                case .rpm: "requests per minute"
                case .tpd: "tokens per day"
                case .rpd: "requests per day"
                case .budgetDay: LLMBudget.Period.day.rawValue
                case .budgetWeek: LLMBudget.Period.week.rawValue
                case .budgetMonth: LLMBudget.Period.month.rawValue
                case .budgetFixed: LLMBudget.Period.fixed.rawValue
                }
            }
        }
        var kind: Kind
        var rule: Int
        var subject: String
        var model: String
    }

    enum Unit: Sendable { case tokens, requests, micros }

    /// What a call holds until it is settled (the counters it was checked against, each with
    /// its amount), and the headers that tell the caller its room.
    public struct Reservation: Sendable {
        var holds: [Check]
        public var headers: [(String, String)]
    }

    /// A soft alert that fired: budget, its subject, spent and ceiling.
    public struct Alert: Sendable, Equatable {
        public var budget: String
        public var spentMicros: Int64
        public var ceilingMicros: Int64
        public var webhook: String?
    }

    private let windows = NIOLockedValueBox<[CounterKey: Window]>([:])

    public init() {}

    /// A counter one call is checked against, with its ceiling and window bounds; once
    /// reserved, the room it had left. Its only references are the key's two strings and the
    /// window: every call makes, copies and drops a few of these.
    struct Check: Sendable {
        var key: CounterKey
        var start: Int64
        var end: Int64
        var ceiling: Int64
        var amount: Int64
        /// A budget's position in the budgets the call was checked against (its soft alert is
        /// looked at when the call settles); -1 for limits.
        var budget: Int = -1
        /// The counter reserved in (in memory; Redis keeps its own).
        var window: Window? = nil
        /// What the counter had left after this call's reservation.
        var left: Int64 = 0

        var unit: Unit { key.kind.unit }

        /// The budget this check counts against, if it is one: found by position in the
        /// budgets it was made from, by its key in others.
        func budget(in budgets: [LLMBudget]) -> LLMBudget? {
            guard budget >= 0 else { return nil }
            if budgets.indices.contains(budget), SpendCounters.budget(budgets[budget], has: key) { return budgets[budget] }
            return budgets.first { SpendCounters.budget($0, has: key) }
        }
    }

    static func checks(_ r: SpendRequest, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64) -> [Check] {
        var out: [Check] = []
        out.reserveCapacity(4 * limits.count + budgets.count)
        for (i, l) in limits.enumerated() where l.model == "*" || l.model == r.model {
            let subject: String? = switch l.by {
            case .consumer: r.consumer
            case .team: r.team
            case .key: r.key
            }
            guard let subject else { continue }
            let model = l.model == "*" ? "*" : r.model
            func key(_ kind: CounterKey.Kind) -> CounterKey { CounterKey(kind: kind, rule: i, subject: subject, model: model) }
            let minute = now - now % 60_000, day = now - now % 86_400_000
            if let n = l.tokensPerMinute { out.append(Check(key: key(.tpm), start: minute, end: minute + 60_000, ceiling: Int64(n), amount: Int64(r.tokens))) }
            if let n = l.requestsPerMinute { out.append(Check(key: key(.rpm), start: minute, end: minute + 60_000, ceiling: Int64(n), amount: 1)) }
            if let n = l.tokensPerDay { out.append(Check(key: key(.tpd), start: day, end: day + 86_400_000, ceiling: Int64(n), amount: Int64(r.tokens))) }
            if let n = l.requestsPerDay { out.append(Check(key: key(.rpd), start: day, end: day + 86_400_000, ceiling: Int64(n), amount: 1)) }
        }
        for (i, b) in budgets.enumerated() {
            let subject: String? = switch b.subject {
            case .consumer: r.consumer
            case .team: r.team
            case .key: r.key
            }
            guard subject == b.name, let (start, end) = window(of: b, at: now) else { continue }
            out.append(Check(key: budgetKey(b), start: start, end: end, ceiling: b.microUSD, amount: r.costMicros, budget: i))
        }
        return out
    }

    static func budgetKey(_ b: LLMBudget) -> CounterKey {
        CounterKey(kind: budgetKind(b), rule: Int(b.from ?? 0), subject: b.name, model: b.subject.rawValue)
    }

    static func budgetKind(_ b: LLMBudget) -> CounterKey.Kind {
        switch b.period {
        case .day: .budgetDay
        case .week: .budgetWeek
        case .month: .budgetMonth
        case .fixed: .budgetFixed
        }
    }

    /// Whether `key` is `b`'s counter (`budgetKey(b) == key`, without making the key).
    static func budget(_ b: LLMBudget, has key: CounterKey) -> Bool {
        key.kind == budgetKind(b) && key.rule == Int(b.from ?? 0) && key.subject == b.name && key.model == b.subject.rawValue
    }

    /// A limit's counter, as `checks` names it (for seeding from the ledger).
    static func limitKey(rule: Int, kind: CounterKey.Kind, subject: String, model: String) -> CounterKey {
        CounterKey(kind: kind, rule: rule, subject: subject, model: model)
    }

    /// The budget's current window: calendar day, week (from Monday) or month in UTC, or the
    /// fixed range (nil outside it: the budget does not apply then).
    public static func window(of b: LLMBudget, at now: Int64) -> (Int64, Int64)? {
        let dayMs: Int64 = 86_400_000
        let days = Int(now / dayMs)
        switch b.period {
        case .day: return (Int64(days) * dayMs, Int64(days + 1) * dayMs)
        case .week:
            let monday = days - (days + 3) % 7  // 1970-01-01 was a Thursday
            return (Int64(monday) * dayMs, Int64(monday + 7) * dayMs)
        case .month:
            let (y, m, _) = CivilDate.civil(fromDays: days)
            let first = CivilDate.daysFromCivil(year: y, month: m, day: 1)
            let next = m == 12 ? CivilDate.daysFromCivil(year: y + 1, month: 1, day: 1) : CivilDate.daysFromCivil(year: y, month: m + 1, day: 1)
            return (Int64(first) * dayMs, Int64(next) * dayMs)
        case .fixed:
            guard let from = b.from, let to = b.to, now >= from, now < to else { return nil }
            return (from, to)
        }
    }

    /// Reserves `r` in every window that applies, or refuses without reserving anything.
    public func reserve(_ r: SpendRequest, limits: [LLMTokenLimit], budgets: [LLMBudget], now: Int64) -> Result<Reservation, SpendRefusal> {
        var checks = Self.checks(r, limits: limits, budgets: budgets, now: now)
        guard !checks.isEmpty else { return .success(Reservation(holds: [], headers: [])) }
        // Only the counting happens under the lock; the answer is built after it. Each counter
        // is hashed once (a new one twice): the first pass finds them all and checks the call
        // fits, the second adds to them, inserting any that are new. The checks carry what
        // this needs, so nothing is allocated but a new counter's window.
        // The checks are used in place: a copy of one retains its strings and window.
        let refused: SpendRefusal? = checks.withUnsafeMutableBufferPointer { checks in
            windows.withLockedValue { all in
                for n in checks.indices {
                    let w = all[checks[n].key]
                    let taken = w.map { $0.start == checks[n].start ? $0.used + $0.reserved : 0 } ?? 0
                    if taken + checks[n].amount > checks[n].ceiling {
                        return Self.refusal(checks[n], left: max(0, checks[n].ceiling - taken), now: now)
                    }
                    checks[n].window = w
                }
                for n in checks.indices {
                    let w: Window
                    if let found = checks[n].window {
                        w = found
                        w.roll(to: checks[n].start)
                    } else {
                        w = Window(start: checks[n].start)
                        all[checks[n].key] = w
                        checks[n].window = w
                    }
                    w.reserved += checks[n].amount
                    checks[n].left = checks[n].ceiling - w.used - w.reserved
                }
                return nil
            }
        }
        if let refused { return .failure(refused) }
        return .success(Self.reservation(checks, now: now))
    }

    /// Why `c` refused a call, in words for the caller.
    static func refusal(_ c: Check, left: Int64, now: Int64) -> SpendRefusal {
        let kind: SpendRefusal.Kind = c.unit == .micros ? .budget : c.unit == .tokens ? .tokens : .requests
        let label = c.key.kind.label
        let message = c.unit == .micros
            ? "This call could cost up to $\(CallCost.decimal(micros: c.amount)); the \(label) budget of \(c.key.model) \(c.key.subject) has $\(CallCost.decimal(micros: max(0, left))) left of $\(CallCost.decimal(micros: c.ceiling))"
            : "Limit of \(c.ceiling) \(label) reached (\(max(0, left)) left, this call needs \(c.amount))"
        return SpendRefusal(kind: kind, message: message, resetMillis: c.end - now)
    }

    /// The reservation of a call that fitted everywhere (each check's `left` set), and its
    /// headers: the tightest window of each unit.
    static func reservation(_ checks: [Check], now: Int64) -> Reservation {
        typealias Room = (ceiling: Int64, left: Int64, reset: Int64)
        var tokens: Room?, requests: Room?, micros: Room?
        checks.withUnsafeBufferPointer { checks in
            for n in checks.indices {
                let (ceiling, left, end) = (checks[n].ceiling, checks[n].left, checks[n].end)
                func tighter(_ t: inout Room?) { if t == nil || t!.left > left { t = (ceiling, left, end - now) } }
                switch checks[n].unit {
                case .tokens: tighter(&tokens)
                case .requests: tighter(&requests)
                case .micros: tighter(&micros)
                }
            }
        }
        var headers: [(String, String)] = []
        headers.reserveCapacity(7)
        func decimal(_ n: Int64) -> String { ASCII.string(capacity: 20) { ASCII.writeDecimal(max(0, n), into: $0, at: 0) } }
        if let t = tokens {
            headers.append(("x-ratelimit-limit-tokens", decimal(t.ceiling)))
            headers.append(("x-ratelimit-remaining-tokens", decimal(t.left)))
            headers.append(("x-ratelimit-reset-tokens", resetText(t.reset)))
        }
        if let t = requests {
            headers.append(("x-ratelimit-limit-requests", decimal(t.ceiling)))
            headers.append(("x-ratelimit-remaining-requests", decimal(t.left)))
            headers.append(("x-ratelimit-reset-requests", resetText(t.reset)))
        }
        if let t = micros { headers.append(("x-triplegate-budget-remaining-usd", CallCost.decimal(micros: max(0, t.left)))) }
        return Reservation(holds: checks, headers: headers)
    }

    /// Replaces a reservation with what the call used. Returns the soft alerts this crossed.
    @discardableResult
    public func settle(_ r: Reservation, tokens: Int, costMicros: Int64, budgets: [LLMBudget]) -> [Alert] {
        guard !r.holds.isEmpty else { return [] }
        return r.holds.withUnsafeBufferPointer { holds in
            windows.withLockedValue { _ in
                var alerts: [Alert] = []
                for n in holds.indices {
                    // The counter is held: no lookup. Skipped if its window rolled over meanwhile.
                    guard let w = holds[n].window, w.start == holds[n].start else { continue }
                    w.reserved = max(0, w.reserved - holds[n].amount)
                    switch holds[n].unit {
                    case .tokens: w.used += Int64(tokens)
                    case .requests: w.used += 1
                    case .micros: w.used += costMicros
                    }
                    if holds[n].unit == .micros, !w.alerted, let b = holds[n].budget(in: budgets), let share = b.softAlertAt,
                       Double(w.used) >= share * Double(b.microUSD) {
                        w.alerted = true
                        alerts.append(Alert(budget: "\(b.subject.rawValue) \(b.name) (\(b.period.rawValue))", spentMicros: w.used, ceilingMicros: b.microUSD, webhook: b.webhook))
                    }
                }
                return alerts
            }
        }
    }

    /// Loads what the ledger says was already used in a window (at start-up).
    public func seed(key: CounterKey, start: Int64, used: Int64) {
        windows.withLockedValue { all in
            let w = all[key] ?? Window(start: start)
            all[key] = w
            w.roll(to: start)
            w.used += used
        }
    }

    /// What is spent in a budget's current window (for tests and the admin API).
    public func spent(_ b: LLMBudget, now: Int64) -> (used: Int64, reserved: Int64)? {
        guard let (start, _) = Self.window(of: b, at: now) else { return nil }
        return windows.withLockedValue { all in all[Self.budgetKey(b)].flatMap { $0.start == start ? ($0.used, $0.reserved) : nil } }
    }

    /// OpenAI's reset format: `1s`, `6m0s`, `1h2m3s`.
    static func resetText(_ millis: Int64) -> String {
        let s = max(1, (millis + 999) / 1000)
        let h = s / 3600, m = (s % 3600) / 60, sec = s % 60
        return ASCII.string(capacity: 32) { b in
            var n = 0
            func put(_ v: Int64, _ unit: Unicode.Scalar) {
                n = ASCII.writeDecimal(v, into: b, at: n)
                b[n] = UInt8(ascii: unit)
                n += 1
            }
            if h > 0 { put(h, "h") }
            if h > 0 || m > 0 { put(m, "m") }
            put(sec, "s")
            return n
        }
    }
}
