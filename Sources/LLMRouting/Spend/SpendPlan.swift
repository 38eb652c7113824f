import GatewayCore

extension SpendCounters {
    /// Whose calls to which public model a plan is for.
    struct PlanKey: Hashable {
        var consumer: String?
        var team: String?
        var key: String?
        var model: String

        /// Hashes the key (or, without one, the consumer) and the model: a key belongs to one
        /// consumer and that to one team, so the rest would only add work (equality still
        /// compares all four).
        func hash(into hasher: inout Hasher) {
            hasher.combine(key ?? consumer)
            hasher.combine(model)
        }
    }

    /// The counters one caller's calls to one model are checked against, resolved from the
    /// rules on the first call and kept: each with the window it counts in (held, so a call
    /// looks nothing up) and the bounds of the period the last call fell in (a month's are
    /// worked out once a month, not per call).
    /// Changed only under the counters' lock.
    final class Plan: @unchecked Sendable {
        struct Entry {
            var key: CounterKey
            var window: Window
            var ceiling: Int64
            /// For a budget: its position in the rules' budgets and the budget itself (for
            /// its window and soft alert); -1 and nil for limits.
            var budgetIndex: Int
            var budget: LLMBudget?
            /// The period the last call fell in, [start, end); empty before the first.
            var start: Int64 = 0
            var end: Int64 = 0

            var unit: Unit { key.kind.unit }

            func contains(_ now: Int64) -> Bool { now >= start && now < end }

            /// Moves to the period `now` falls in; false when none applies (a fixed budget
            /// outside its range), the bounds then left as they were.
            mutating func locate(at now: Int64) -> Bool {
                if contains(now) { return true }
                guard let (start, end) = SpendCounters.bounds(key.kind, budget: budget, at: now) else { return false }
                self.start = start
                self.end = end
                return true
            }

            /// The start of the period `now` falls in, without moving there.
            func start(at now: Int64) -> Int64? {
                contains(now) ? start : SpendCounters.bounds(key.kind, budget: budget, at: now)?.0
            }
        }

        var entries: [Entry]
        /// The rules' generation this plan was made from.
        let generation: UInt64

        init(entries: [Entry], generation: UInt64) {
            self.entries = entries
            self.generation = generation
        }
    }

    /// What a call reserves (and, settled, uses) in a counter of each unit.
    struct Amounts: Sendable {
        var tokens: Int64
        var micros: Int64

        subscript(_ unit: Unit) -> Int64 {
            switch unit {
            case .tokens: tokens
            case .requests: 1
            case .micros: micros
            }
        }
    }

    /// The plans of the newest rules seen, and every counter's window.
    struct State {
        var windows: [CounterKey: Window] = [:]
        var plans: [PlanKey: Plan] = [:]
        /// The generation of the rules `plans` were made from.
        var generation: UInt64 = 0

        /// Plans kept at most: one per caller and model in use; past this (keys by the
        /// thousand, each calling many models) they are all dropped and made again.
        static let maxPlans = 50_000

        /// `key`'s plan under `rules`: kept from an earlier call, or made now. A reload's newer
        /// rules drop the older plans; a call still running on older rules gets a plan of its
        /// own, not kept.
        mutating func plan(for key: PlanKey, rules: SpendRules) -> Plan {
            if rules.generation == generation, let plan = plans[key] { return plan }
            let plan = makePlan(for: key, rules: rules)
            if rules.generation > generation {
                plans.removeAll()
                generation = rules.generation
            }
            if rules.generation == generation {
                if plans.count >= Self.maxPlans { plans.removeAll(keepingCapacity: true) }
                plans[key] = plan
            }
            return plan
        }

        /// The counters `rules` check `key`'s calls against, as `SpendCounters.checks` finds
        /// them (limits in order, then budgets), each with its window, made now if new.
        mutating func makePlan(for key: PlanKey, rules: SpendRules) -> Plan {
            var entries: [Plan.Entry] = []
            func window(_ k: CounterKey) -> Window {
                if let w = windows[k] { return w }
                let w = Window(start: .min)
                windows[k] = w
                return w
            }
            func subject(_ by: String) -> String? {
                switch by {
                case "consumer": key.consumer
                case "team": key.team
                default: key.key
                }
            }
            for (i, l) in rules.limits.enumerated() where l.model == "*" || l.model == key.model {
                guard let subject = subject(l.by.rawValue) else { continue }
                let model = l.model == "*" ? "*" : key.model
                for (kind, ceiling) in [(CounterKey.Kind.tpm, l.tokensPerMinute), (.rpm, l.requestsPerMinute), (.tpd, l.tokensPerDay), (.rpd, l.requestsPerDay)] {
                    guard let ceiling else { continue }
                    let k = CounterKey(kind: kind, rule: i, subject: subject, model: model)
                    entries.append(Plan.Entry(key: k, window: window(k), ceiling: Int64(ceiling), budgetIndex: -1, budget: nil))
                }
            }
            for (i, b) in rules.budgets.enumerated() where subject(b.subject.rawValue) == b.name {
                let k = SpendCounters.budgetKey(b)
                entries.append(Plan.Entry(key: k, window: window(k), ceiling: b.microUSD, budgetIndex: i, budget: b))
            }
            return Plan(entries: entries, generation: rules.generation)
        }
    }

    /// The period of a counter of `kind` that `now` falls in: the minute or day of a limit, the
    /// budget's window (nil outside a fixed budget's range).
    static func bounds(_ kind: CounterKey.Kind, budget: LLMBudget?, at now: Int64) -> (Int64, Int64)? {
        switch kind {
        case .tpm, .rpm:
            let minute = now - now % 60_000
            return (minute, minute + 60_000)
        case .tpd, .rpd:
            let day = now - now % 86_400_000
            return (day, day + 86_400_000)
        case .budgetDay, .budgetWeek, .budgetMonth, .budgetFixed:
            return budget.flatMap { window(of: $0, at: now) }
        }
    }
}
