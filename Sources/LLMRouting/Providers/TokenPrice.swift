/// A price in USD per million tokens, held exactly as an integer count of micro-dollars per
/// million tokens (which is also pico-dollars per token). Written and read as decimal text
/// ("2.50", "0.0375"); never a floating-point number, so a cost is the same on every machine
/// and sums to the cent in any order.
package struct TokenPrice: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Micro-USD per 1M tokens (= pico-USD per token).
    package let microsPerMillion: Int64

    package init(microsPerMillion: Int64) { self.microsPerMillion = microsPerMillion }

    package static let zero = TokenPrice(microsPerMillion: 0)

    /// Parses a non-negative decimal with at most six fractional digits ("3", "0.075",
    /// "18.75"); nil for anything else (signs, exponents, more digits, garbage).
    package init?(decimal text: String) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit), whole.count <= 9 else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        if parts.count == 2, fraction.isEmpty { return nil }
        guard fraction.count <= 6, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        let padded = fraction + String(repeating: "0", count: 6 - fraction.count)
        guard let w = Int64(whole), let f = Int64(padded) else { return nil }
        microsPerMillion = w * 1_000_000 + f
    }

    /// The cost of `tokens` tokens in pico-USD (exact: no rounding until a report asks for it).
    /// Saturating: token counts come from providers, and no count may stop the process.
    package func picoUSD(tokens: Int) -> Int64 { Int64(tokens).multipliedSaturating(by: microsPerMillion) }

    /// "2.5", "0.0375": the shortest exact decimal.
    package var description: String {
        let whole = microsPerMillion / 1_000_000, frac = microsPerMillion % 1_000_000
        if frac == 0 { return String(whole) }
        var f = String(frac)
        f = String(repeating: "0", count: 6 - f.count) + f
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }

    package static func < (a: TokenPrice, b: TokenPrice) -> Bool { a.microsPerMillion < b.microsPerMillion }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
