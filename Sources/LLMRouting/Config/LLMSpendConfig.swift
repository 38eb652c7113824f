import GatewayCore

/// `llm.limits[]`: token and request budgets per minute or day, per consumer or team, counted
/// before the call (a reservation of the prompt estimate plus the output ceiling) and settled
/// with the provider's reported usage after it.
package struct LLMTokenLimit: Sendable, Equatable {
    package enum Subject: String, Sendable, CaseIterable { case consumer, team, key }
    package var by: Subject = .consumer
    /// A public model name, or `*` for every model.
    package var model: String = "*"
    package var tokensPerMinute: Int?
    package var requestsPerMinute: Int?
    package var tokensPerDay: Int?
    package var requestsPerDay: Int?

    package init() {}
}

/// `llm.budgets[]`: a USD ceiling for one consumer, team or key over a period, checked before
/// each call with the call's worst case reserved, so concurrent calls cannot overspend it.
package struct LLMBudget: Sendable, Equatable {
    package enum Period: String, Sendable, CaseIterable { case day, week, month, fixed }
    package enum Subject: String, Sendable { case consumer, team, key }
    package var subject: Subject = .team
    /// The consumer, team or key id the budget is for.
    package var name: String = ""
    /// The ceiling, exactly, in micro-USD (read from a decimal with at most 6 places).
    package var microUSD: Int64 = 0
    /// Calendar periods in UTC (weeks start on Monday); `fixed` runs from `from` to `to`.
    package var period: Period = .month
    /// Unix milliseconds, for `fixed`.
    package var from: Int64?
    package var to: Int64?
    /// The share of the budget (0–1) at which a soft alert fires once per period. Default none.
    package var softAlertAt: Double?
    /// POSTed a JSON alert when the soft alert fires. Default none.
    package var webhook: String?

    package init() {}
}

extension ConfigReader {
    /// A non-negative USD amount with at most six decimal places, in micro-USD. Never a float:
    /// `0.1 + 0.2` must be `0.3` in a budget too.
    package func microUSD() -> Int64? {
        guard let raw = string() else { return nil }
        let parts = raw.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard !whole.isEmpty, whole.count <= 12, whole.allSatisfy({ $0.isASCII && $0.isNumber }),
              parts.count == 1 || (!fraction.isEmpty && fraction.count <= 6 && fraction.allSatisfy({ $0.isASCII && $0.isNumber })),
              let w = Int64(whole), let f = Int64(fraction + String(repeating: "0", count: 6 - fraction.count))
        else {
            problem("must be a USD amount such as 500 or 12.50, at most 6 decimals (got \"\(raw)\")")
            return nil
        }
        return w * 1_000_000 + f
    }
}

extension LLMTokenLimit {
    init(reading o: ConfigObject) {
        self.init()
        by = o["by"].oneOf(Subject.self) ?? by
        model = o["model"].string() ?? model
        tokensPerMinute = o["tokens_per_minute"].int(min: 1)
        requestsPerMinute = o["requests_per_minute"].int(min: 1)
        tokensPerDay = o["tokens_per_day"].int(min: 1)
        requestsPerDay = o["requests_per_day"].int(min: 1)
        if tokensPerMinute == nil, requestsPerMinute == nil, tokensPerDay == nil, requestsPerDay == nil,
           !o.hasAny(["tokens_per_minute", "requests_per_minute", "tokens_per_day", "requests_per_day"]) {
            o.problem(at: "tokens_per_minute", "give at least one of tokens_per_minute, requests_per_minute, tokens_per_day, requests_per_day")
        }
    }
}

extension LLMBudget {
    init(reading o: ConfigObject) {
        self.init()
        let subjects = [("consumer", Subject.consumer), ("team", .team), ("key", .key)].filter { o.has($0.0) }
        if subjects.count != 1 {
            for (key, _) in subjects { _ = o[key].string() }  // read, so they are not also "unknown"
            o.problem(at: "team", "name exactly one of consumer, team or key")
        } else {
            subject = subjects[0].1
            name = o[subjects[0].0].requiredString() ?? ""
        }
        microUSD = o["usd"].microUSD() ?? 0
        if !o.has("usd") { o.problem(at: "usd", "is required") }
        period = o["period"].oneOf(Period.self) ?? period
        if period == .fixed {
            from = o["from"].string().flatMap(LLMBudget.millis(isoDay:))
            to = o["to"].string().flatMap(LLMBudget.millis(isoDay:))
            if from == nil || to == nil || from! >= to! { o.problem(at: "from", "a fixed period needs from and to (YYYY-MM-DD, from before to)") }
        }
        softAlertAt = o["soft_alert_at"].double(min: 0, max: 1)
        webhook = o["webhook"].string()
        if let webhook, case .failure(let e) = UpstreamURL.parse(webhook) { o.problem(at: "webhook", "\(e)") }
    }

    /// Midnight UTC of a `YYYY-MM-DD` day, in unix milliseconds.
    static func millis(isoDay text: String) -> Int64? {
        CivilDate.day(fromISODate: text).map { Int64($0) * 86_400_000 }
    }
}
