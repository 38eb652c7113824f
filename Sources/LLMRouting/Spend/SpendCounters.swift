import GatewayCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Who a call is charged to, and what it may cost at most.
package struct SpendRequest: Sendable {
    package var consumer: String?
    package var team: String?
    package var key: String?
    package var model: String
    /// Prompt estimate plus the output ceiling.
    package var tokens: Int
    /// The worst case at the model's prices, micro-USD.
    package var costMicros: Int64

    package init(consumer: String?, team: String?, key: String?, model: String, tokens: Int, costMicros: Int64) {
        self.consumer = consumer
        self.team = team
        self.key = key
        self.model = model
        self.tokens = tokens
        self.costMicros = costMicros
    }
}

/// Why a call was refused before any provider was asked.
package struct SpendRefusal: Error, Sendable, Equatable {
    package enum Kind: String, Sendable { case tokens, requests, budget }
    package var kind: Kind
    package var message: String
    /// Milliseconds until the window that refused resets.
    package var resetMillis: Int64
}

/// The counters that limits and budgets are checked against: in memory, one lock, windows keyed
/// by rule and subject, found once for each caller and model (`Plan`). A call reserves its
/// worst case in every window that applies, all or nothing under the lock, so concurrent calls
/// cannot together pass a limit; when it ends the reservation is replaced by what it really
/// used. The ledger is never read on the request path: `seed` loads the current windows from it
/// at start-up. Pure: time comes in.
package final class SpendCounters: Sendable {
    /// Redis's counters rebuilt from the ledger (`SpendSeeding`).
    let redisRebuild = NIOLockedValueBox(RedisRebuildState())

    /// One counter's current window. A class so that plans hold the counters they check and
    /// calls reserve and settle without looking them up; never replaced once made, its fields
    /// change only under the counters' lock.
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
    package struct CounterKey: Hashable, Sendable {
        package enum Kind: UInt8, Sendable {
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

    /// What a call holds until it is settled, and the headers that tell the caller its room.
    package struct Reservation: Sendable {
        enum Holds: Sendable {
            /// Nothing applied (or Redis could not answer).
            case none
            /// Reserved here: the plan's counters that applied at `at`, each by its unit's amount.
            case counted(Plan, at: Int64, Amounts)
            /// Reserved in Redis: the windows it was checked against.
            case redis([Check])
        }
        var holds: Holds
        /// The room it left, for its headers.
        package var rooms = Rooms()

        static let empty = Reservation(holds: .none)

        /// The headers that tell the caller its room.
        package var headers: [(String, String)] {
            var h: [(String, String)] = []
            rooms.appendHeaders(to: &h)
            return h
        }
    }

    /// A soft alert that fired: budget, its subject, spent and ceiling.
    package struct Alert: Sendable, Equatable {
        package var budget: String
        package var spentMicros: Int64
        package var ceilingMicros: Int64
        package var webhook: String?
    }

    private let state = NIOLockedValueBox(State())

    package init() {}

    /// A counter one call is checked against in Redis, with its ceiling and window bounds; once
    /// reserved, the room it had left.
    struct Check: Sendable {
        var key: CounterKey
        var start: Int64
        var end: Int64
        var ceiling: Int64
        var amount: Int64
        /// A budget's position in the budgets the call was checked against (its soft alert is
        /// looked at when the call settles); -1 for limits.
        var budget: Int = -1
        /// What the counter had left after this call's reservation.
        var left: Int64 = 0

        var unit: Unit { key.kind.unit }

        /// The budget this check counts against, if it is one: found by position in the
        /// budgets it was made from, by its key in others.
        func budget(in budgets: [LLMBudget]) -> LLMBudget? { SpendCounters.budget(key, at: budget, in: budgets) }
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
            for (kind, ceiling) in [(CounterKey.Kind.tpm, l.tokensPerMinute), (.rpm, l.requestsPerMinute), (.tpd, l.tokensPerDay), (.rpd, l.requestsPerDay)] {
                guard let ceiling, let (start, end) = bounds(kind, budget: nil, at: now) else { continue }
                out.append(Check(key: CounterKey(kind: kind, rule: i, subject: subject, model: model), start: start, end: end, ceiling: Int64(ceiling),
                                 amount: kind.unit == .requests ? 1 : Int64(r.tokens)))
            }
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

    /// The budget whose counter `key` is: at `position` in `budgets` if it still is there, else
    /// wherever a reload moved it; nil if gone (or `position` is -1: a limit's counter).
    static func budget(_ key: CounterKey, at position: Int, in budgets: [LLMBudget]) -> LLMBudget? {
        guard position >= 0 else { return nil }
        if budgets.indices.contains(position), budget(budgets[position], has: key) { return budgets[position] }
        return budgets.first { budget($0, has: key) }
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
    package static func window(of b: LLMBudget, at now: Int64) -> (Int64, Int64)? {
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
    package func reserve(_ r: SpendRequest, rules: SpendRules, now: Int64) -> Result<Reservation, SpendRefusal> {
        guard !rules.isEmpty else { return .success(.empty) }
        let caller = PlanKey(consumer: r.consumer, team: r.team, key: r.key, model: r.model)
        let amounts = Amounts(tokens: Int64(r.tokens), micros: r.costMicros)
        var rooms = Rooms()
        // Only the counting happens under the lock (the plan's windows are held: nothing is
        // looked up but the plan); the headers are written with the answer. The first pass checks the
        // call fits everywhere, the second reserves it.
        let outcome: Result<Plan, SpendRefusal> = state.withLockedValue { state in
            let plan = state.plan(for: caller, rules: rules)
            return plan.entries.withUnsafeMutableBufferPointer { e in
                for n in e.indices where e[n].locate(at: now) {
                    let w = e[n].window, amount = amounts[e[n].unit]
                    let taken = w.start == e[n].start ? w.used.addingSaturating(w.reserved) : 0
                    if taken.addingSaturating(amount) > e[n].ceiling {
                        return .failure(Self.refusal(e[n].key, ceiling: e[n].ceiling, amount: amount, left: max(0, e[n].ceiling - taken), reset: e[n].end - now))
                    }
                }
                // The counters pass one located in `now`'s period (a fixed budget outside its
                // range was not).
                for n in e.indices where e[n].contains(now) {
                    let w = e[n].window
                    w.roll(to: e[n].start)
                    w.reserved = w.reserved.addingSaturating(amounts[e[n].unit])
                    let room = Room(ceiling: e[n].ceiling, left: e[n].ceiling.subtractingSaturating(w.used.addingSaturating(w.reserved)), reset: e[n].end - now)
                    rooms.add(room, unit: e[n].unit)
                }
                return .success(plan)
            }
        }
        switch outcome {
        case .failure(let refusal): return .failure(refusal)
        case .success(let plan):
            return .success(Reservation(holds: .counted(plan, at: now, amounts), rooms: rooms))
        }
    }

    /// Why a counter refused a call, in words for the caller.
    static func refusal(_ key: CounterKey, ceiling: Int64, amount: Int64, left: Int64, reset: Int64) -> SpendRefusal {
        let unit = key.kind.unit
        let kind: SpendRefusal.Kind = unit == .micros ? .budget : unit == .tokens ? .tokens : .requests
        let label = key.kind.label
        let message = unit == .micros
            ? "This call could cost up to $\(CallCost.decimal(micros: amount)); the \(label) budget of \(key.model) \(key.subject) has $\(CallCost.decimal(micros: max(0, left))) left of $\(CallCost.decimal(micros: ceiling))"
            : "Limit of \(ceiling) \(label) reached (\(max(0, left)) left, this call needs \(amount))"
        return SpendRefusal(kind: kind, message: message, resetMillis: reset)
    }

    static func refusal(_ c: Check, left: Int64, now: Int64) -> SpendRefusal {
        refusal(c.key, ceiling: c.ceiling, amount: c.amount, left: left, reset: c.end - now)
    }

    /// A counter's room after a call: its ceiling, what is left and the milliseconds until its
    /// window resets.
    package struct Room: Sendable {
        var ceiling: Int64
        var left: Int64
        var reset: Int64
    }

    /// The tightest room of each unit a call was checked in: what its headers say. Written
    /// into the answer's head as bytes (`ResponseHeaderLines`), or added to a list.
    package struct Rooms: Sendable, ResponseHeaderLines {
        var tokens: Room?
        var requests: Room?
        var micros: Room?

        /// Keeps `room` if it is the first of its unit or has less left (the first of equals stays).
        mutating func add(_ room: Room, unit: Unit) {
            func tighter(_ tightest: inout Room?) { if tightest == nil || tightest!.left > room.left { tightest = room } }
            switch unit {
            case .tokens: tighter(&tokens)
            case .requests: tighter(&requests)
            case .micros: tighter(&micros)
            }
        }

        /// How many headers there are.
        package var headerCount: Int { (tokens == nil ? 0 : 3) + (requests == nil ? 0 : 3) + (micros == nil ? 0 : 1) }

        /// Each header's name and what writes its value (into room for `valueBytes`, returning
        /// the bytes written): OpenAI's `x-ratelimit-*` for tokens and requests, and the
        /// budget's remaining dollars.
        private func each(_ header: (String, (UnsafeMutableBufferPointer<UInt8>) -> Int) -> Void) {
            func counter(_ r: Room, _ limit: String, _ remaining: String, _ reset: String) {
                header(limit) { ASCII.writeDecimal(max(0, r.ceiling), into: $0, at: 0) }
                header(remaining) { ASCII.writeDecimal(max(0, r.left), into: $0, at: 0) }
                header(reset) { SpendCounters.writeReset(r.reset, into: $0, at: 0) }
            }
            if let t = tokens { counter(t, "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens") }
            if let t = requests { counter(t, "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests") }
            if let t = micros { header("x-triplegate-budget-remaining-usd") { CallCost.writeDecimal(micros: max(0, t.left), into: $0, at: 0) } }
        }

        /// The most a value takes (a count, a reset time or dollars).
        static let valueBytes = 32
        /// The longest name (`x-triplegate-budget-remaining-usd`) and a value, with `: ` and CRLF.
        static let lineBytes = 33 + 4 + valueBytes

        package var byteCount: Int { headerCount * Self.lineBytes }

        package func write(into out: inout ByteBuffer) {
            guard headerCount > 0 else { return }
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: byteCount) { raw in
                let b = raw.bindMemory(to: UInt8.self)
                var at = 0
                each { name, value in
                    var name = name
                    name.withUTF8 { n in
                        UnsafeMutableRawPointer(b.baseAddress! + at).copyMemory(from: n.baseAddress!, byteCount: n.count)
                        at += n.count
                    }
                    b[at] = UInt8(ascii: ":")
                    b[at + 1] = UInt8(ascii: " ")
                    at += 2 + value(UnsafeMutableBufferPointer(rebasing: b[(at + 2)...]))
                    b[at] = UInt8(ascii: "\r")
                    b[at + 1] = UInt8(ascii: "\n")
                    at += 2
                }
                return at
            }
        }

        package func add(to headers: inout HTTPHeaders) {
            each { name, value in headers.add(name: name, value: ASCII.string(capacity: Self.valueBytes, value)) }
        }

        /// The same headers appended to a list (an error's).
        package func appendHeaders(to headers: inout [(String, String)]) {
            each { name, value in headers.append((name, ASCII.string(capacity: Self.valueBytes, value))) }
        }
    }

    /// The reservation of a call Redis let through (each check's `left` set), and its room.
    static func reservation(_ checks: [Check], now: Int64) -> Reservation {
        var rooms = Rooms()
        for c in checks { rooms.add(Room(ceiling: c.ceiling, left: c.left, reset: c.end - now), unit: c.unit) }
        return Reservation(holds: .redis(checks), rooms: rooms)
    }

    /// A count as the headers write it (never negative).
    static func decimal(_ n: Int64) -> String { ASCII.string(capacity: 20) { ASCII.writeDecimal(max(0, n), into: $0, at: 0) } }

    /// Replaces a reservation with what the call used. Returns the soft alerts this crossed;
    /// `rules` are those in force now (a reload may have changed a budget's alert).
    @discardableResult
    package func settle(_ r: Reservation, tokens: Int, costMicros: Int64, rules: SpendRules) -> [Alert] {
        guard case .counted(let plan, let at, let reserved) = r.holds else { return [] }
        let used = Amounts(tokens: Int64(tokens), micros: costMicros)
        return state.withLockedValue { _ in
            plan.entries.withUnsafeBufferPointer { e in
                var alerts: [Alert] = []
                for n in e.indices {
                    // Skipped where the counter did not apply to the call, or its window rolled
                    // over since.
                    guard let start = e[n].start(at: at), e[n].window.start == start else { continue }
                    let w = e[n].window, unit = e[n].unit
                    w.reserved = max(0, w.reserved.subtractingSaturating(reserved[unit]))
                    w.used = w.used.addingSaturating(used[unit])
                    guard unit == .micros, !w.alerted else { continue }
                    // The plan's own budget while its rules are in force; after a reload, the
                    // budget as the new rules have it, found by its counter.
                    let budget = rules.generation == plan.generation ? e[n].budget : Self.budget(e[n].key, at: e[n].budgetIndex, in: rules.budgets)
                    guard let b = budget, let share = b.softAlertAt, Double(w.used) >= share * Double(b.microUSD) else { continue }
                    w.alerted = true
                    alerts.append(Alert(budget: "\(b.subject.rawValue) \(b.name) (\(b.period.rawValue))", spentMicros: w.used, ceilingMicros: b.microUSD, webhook: b.webhook))
                }
                return alerts
            }
        }
    }

    /// Loads what the ledger says was already used in a window (at start-up).
    package func seed(key: CounterKey, start: Int64, used: Int64) {
        state.withLockedValue { state in
            let w = state.windows[key] ?? Window(start: start)
            state.windows[key] = w
            w.roll(to: start)
            w.used = w.used.addingSaturating(used)
        }
    }

    /// What is spent in a budget's current window (for tests and the admin API).
    package func spent(_ b: LLMBudget, now: Int64) -> (used: Int64, reserved: Int64)? {
        guard let (start, _) = Self.window(of: b, at: now) else { return nil }
        return state.withLockedValue { state in state.windows[Self.budgetKey(b)].flatMap { $0.start == start ? ($0.used, $0.reserved) : nil } }
    }

    /// OpenAI's reset format: `1s`, `6m0s`, `1h2m3s`.
    static func resetText(_ millis: Int64) -> String {
        ASCII.string(capacity: 32) { writeReset(millis, into: $0, at: 0) }
    }

    /// `resetText`'s text written at `at` (room for 32 bytes); returns the index after it.
    static func writeReset(_ millis: Int64, into b: UnsafeMutableBufferPointer<UInt8>, at: Int) -> Int {
        let s = max(1, (millis + 999) / 1000)
        let h = s / 3600, m = (s % 3600) / 60, sec = s % 60
        var n = at
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
