import Foundation
import GatewayCore

/// What a chargeback report groups by.
package enum ChargebackDimension: Sendable, Equatable {
    case team, consumer, key, model, provider, servedModel, day
    /// A caller tag's value (`tag:project`).
    case tag(String)

    /// Parses `team`, `consumer`, `key`, `model`, `provider`, `served_model`, `day`, `tag:NAME`.
    package init?(_ text: String) {
        switch text {
        case "team": self = .team
        case "consumer": self = .consumer
        case "key": self = .key
        case "model": self = .model
        case "provider": self = .provider
        case "served_model": self = .servedModel
        case "day": self = .day
        default:
            guard text.hasPrefix("tag:") else { return nil }
            let name = text.dropFirst(4)
            // The name goes into a JSON path in SQL: letters, digits and _ . - only.
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else { return nil }
            self = .tag(String(name))
        }
    }

    package var name: String {
        switch self {
        case .team: return "team"
        case .consumer: return "consumer"
        case .key: return "key"
        case .model: return "model"
        case .provider: return "provider"
        case .servedModel: return "served_model"
        case .day: return "day"
        case .tag(let t): return "tag:\(t)"
        }
    }

    /// The SQL expression, text-valued; `timeColumn` is `time_ms` (ledger) or `hour_ms` (rollup).
    func sqlExpression(_ dialect: SQLDialect, timeColumn: String) -> String {
        switch self {
        case .team: return "COALESCE(team, '')"
        case .consumer: return "COALESCE(consumer, '')"
        case .key: return "COALESCE(key_id, '')"
        case .model: return "model"
        case .provider: return "COALESCE(provider, '')"
        case .servedModel: return "COALESCE(served_model, '')"
        case .day: return dialect.utcDay(ofMillis: timeColumn)
        case .tag(let t): return "COALESCE(\(dialect.jsonMember("tags", t)), '')"
        }
    }
}

/// A report's question: a half-open time range in unix milliseconds and the grouping.
package struct ChargebackQuery: Sendable {
    package var from: Int64
    package var to: Int64
    package var groupBy: [ChargebackDimension]

    package struct Invalid: Error, CustomStringConvertible {
        package var description: String
    }

    /// Reads `group_by` (comma separated) and the range. Grouping by `model` also groups by
    /// `provider` (placed after it) unless `provider` is named: one model name can be served by
    /// several providers at different prices, and finance pays each.
    package init(from: String, to: String, groupBy: String) throws(Invalid) {
        guard let f = Self.instant(from) else { throw Invalid(description: "from: expected YYYY-MM-DD or an ISO 8601 time (got \"\(from)\")") }
        guard let t = Self.instant(to) else { throw Invalid(description: "to: expected YYYY-MM-DD or an ISO 8601 time (got \"\(to)\")") }
        guard f < t else { throw Invalid(description: "from must be before to (the range is [from, to))") }
        var dims: [ChargebackDimension] = []
        for word in groupBy.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !word.isEmpty {
            guard let d = ChargebackDimension(word) else {
                throw Invalid(description: "group_by: unknown \"\(word)\" (team, consumer, key, model, provider, served_model, day, tag:NAME)")
            }
            if !dims.contains(d) { dims.append(d) }
        }
        if let m = dims.firstIndex(of: .model), !dims.contains(.provider) { dims.insert(.provider, at: m + 1) }
        self.from = f
        self.to = t
        self.groupBy = dims
    }

    /// `2026-11-01` (midnight UTC) or an ISO 8601 time; without a zone, UTC.
    static func instant(_ text: String) -> Int64? {
        if text.count == 10, let day = ProviderCatalog.day(fromISODate: text) { return Int64(day) * 86_400_000 }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        // No zone given: UTC.
        if let d = f.date(from: text + "Z") { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        return nil
    }
}

/// Sums per group: requests, tokens, cost and what the prompt cache saved. Money stays in
/// integer micro-USD until written, so the lines add up to the total exactly.
package struct ChargebackReport: Sendable, Equatable {
    package struct Line: Sendable, Equatable {
        package var group: [String]
        package var requests: Int64
        /// All prompt tokens (cached and cache writes included).
        package var inputTokens: Int64
        package var cachedInputTokens: Int64
        package var cacheWriteTokens: Int64
        package var outputTokens: Int64
        package var costMicros: Int64
        package var savedMicros: Int64
    }

    package var groupBy: [ChargebackDimension]
    package var lines: [Line]

    package var totalCostMicros: Int64 { lines.reduce(0) { $0 + $1.costMicros } }

    static let valueColumns = ["requests", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "cost_usd", "saved_by_cache_usd"]

    /// RFC 4180: CRLF line ends, fields quoted when they hold a comma, quote or line break.
    package var csv: String {
        var out = (groupBy.map(\.name) + Self.valueColumns).map(Self.field).joined(separator: ",") + "\r\n"
        for l in lines {
            let values = [String(l.requests), String(l.inputTokens), String(l.cachedInputTokens), String(l.cacheWriteTokens), String(l.outputTokens),
                          CallCost.decimal(micros: l.costMicros), CallCost.decimal(micros: l.savedMicros)]
            out += (l.group.map(Self.field) + values).joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `{"group_by": [...], "lines": [{...}], "total": {...}}`; money as decimal strings.
    package var json: JSONValue {
        func values(_ requests: Int64, _ input: Int64, _ cached: Int64, _ write: Int64, _ output: Int64, _ cost: Int64, _ saved: Int64) -> [(String, JSONValue)] {
            [("requests", .int(Int(requests))), ("input_tokens", .int(Int(input))), ("cached_input_tokens", .int(Int(cached))),
             ("cache_write_tokens", .int(Int(write))), ("output_tokens", .int(Int(output))),
             ("cost_usd", .string(CallCost.decimal(micros: cost))), ("saved_by_cache_usd", .string(CallCost.decimal(micros: saved)))]
        }
        let sum = { (k: KeyPath<Line, Int64>) in self.lines.reduce(0) { $0 + $1[keyPath: k] } }
        return .object([
            ("group_by", .array(groupBy.map { .string($0.name) })),
            ("lines", .array(lines.map { l in
                .object(zip(groupBy, l.group).map { ($0.name, JSONValue.string($1)) }
                    + values(l.requests, l.inputTokens, l.cachedInputTokens, l.cacheWriteTokens, l.outputTokens, l.costMicros, l.savedMicros))
            })),
            ("total", .object(values(sum(\.requests), sum(\.inputTokens), sum(\.cachedInputTokens), sum(\.cacheWriteTokens), sum(\.outputTokens),
                                     sum(\.costMicros), sum(\.savedMicros)))),
        ])
    }
}
