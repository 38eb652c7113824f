import Foundation
import GatewayCore
import NIOHTTP1

/// A host pattern: `api.example.com` or `*.example.com` (any subdomain, never the apex).
struct HostPattern: Sendable {
    let exact: String?
    /// `.example.com` for `*.example.com`.
    let suffix: String?

    init(_ text: String) {
        let lower = text.lowercased()
        if lower.hasPrefix("*.") {
            exact = nil
            suffix = String(lower.dropFirst(1))
        } else {
            exact = lower
            suffix = nil
        }
    }

    /// `host` is already lower-cased and stripped of its port.
    func matches(_ host: Substring) -> Bool {
        if let exact { return host == exact }
        guard let suffix else { return false }
        return host.count > suffix.count && host.hasSuffix(suffix)
    }
}

/// One value a header or query parameter may have: a literal or a `~regex`.
struct ValuePattern: @unchecked Sendable {
    // NSRegularExpression is immutable and documented as thread-safe once built.
    let literal: String?
    let regex: NSRegularExpression?
    let caseInsensitive: Bool

    init(_ text: String, caseInsensitive: Bool) {
        self.caseInsensitive = caseInsensitive
        if text.hasPrefix("~") {
            literal = nil
            regex = try? NSRegularExpression(pattern: String(text.dropFirst()))
        } else {
            literal = caseInsensitive ? text.lowercased() : text
            regex = nil
        }
    }

    func matches(_ value: String) -> Bool {
        if let literal {
            return caseInsensitive ? value.lowercased() == literal : value == literal
        }
        guard let regex else { return false }
        return regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }
}

/// A header condition: the request must carry the header with one of the values.
struct HeaderCondition: Sendable {
    let name: String
    let values: [ValuePattern]

    func matches(_ headers: HTTPHeaders) -> Bool {
        for value in headers[name] where values.contains(where: { $0.matches(value) }) {
            return true
        }
        return false
    }
}

/// A query-parameter condition.
struct QueryCondition: Sendable {
    let name: String
    let values: [ValuePattern]

    func matches(_ query: [(String, String)]) -> Bool {
        query.contains { pair in pair.0 == name && values.contains { $0.matches(pair.1) } }
    }
}

/// Query-string parsing for routes that test parameters (only those routes pay for it).
enum QueryString {
    /// `query` without any parameter named in `names` (compared raw and percent-decoded, every
    /// occurrence): a credential taken from the query never goes upstream. Nil when nothing is left.
    static func removing(_ names: [String], from query: Substring) -> Substring? {
        let kept = query.split(separator: "&", omittingEmptySubsequences: true).filter { pair in
            let name = pair.prefix { $0 != "=" }
            let decoded = String(name).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(name)
            return !names.contains(String(name)) && !names.contains(decoded)
        }
        return kept.isEmpty ? nil : Substring(kept.joined(separator: "&"))
    }

    static func parse(_ query: Substring) -> [(String, String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[0])
            let raw = kv.count > 1 ? String(kv[1]) : ""
            return (key, raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? raw)
        }
    }
}
