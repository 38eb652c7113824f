import Foundation

/// Takes credentials and addresses out of text an upstream wrote before it reaches a caller.
///
/// A provider's error message is passed back so a caller can act on it ("context length
/// exceeded"), but providers echo what they were sent: one that echoed the Authorization header
/// handed the organisation's key and an internal URL to every caller. Removed: the exact
/// secrets given (the keys the gateway sent), anything after `Bearer`/`Basic`, tokens shaped
/// like API keys (`sk-…`, `AIza…`, long hex or base64url runs) and every URL.
package enum SecretScrubber {
    /// The longest message kept (a caller needs a sentence, not a page of upstream HTML).
    package static let maxLength = 500

    package static func scrub(_ text: String, secrets: [String] = []) -> String {
        var out = text
        for secret in secrets where secret.utf8.count >= 4 {
            out = out.replacingOccurrences(of: secret, with: "[redacted]")
        }
        var words: [Substring] = []
        var redactNext = false
        for word in out.split(separator: " ", omittingEmptySubsequences: false) {
            if redactNext, !word.isEmpty {
                words.append("[redacted]")
                redactNext = false
                continue
            }
            let bare = word.trimmingCharacters(in: CharacterSet(charactersIn: "\"'(),;<>[]{}"))
            let lower = bare.lowercased()
            if lower == "bearer" || lower == "basic" || lower.hasSuffix("authorization:") || lower.hasSuffix("api-key:")
                || lower.hasSuffix("x-api-key:")
            {
                words.append(word)
                redactNext = true
                continue
            }
            if lower.contains("://") {
                words.append("[url]")
            } else if looksLikeKey(bare) {
                words.append("[redacted]")
            } else {
                words.append(word)
            }
        }
        out = words.joined(separator: " ")
        if out.count > maxLength { out = String(out.prefix(maxLength)) + "…" }
        return out
    }

    /// `sk-…`, `sk-ant-…`, `AIza…`, or a run of 32+ key characters with both digits and letters.
    static func looksLikeKey(_ word: String) -> Bool {
        let keyChars = word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        guard keyChars, word.count >= 16 else { return false }
        if word.hasPrefix("sk-") || word.hasPrefix("AIza") || word.hasPrefix("tg-") || word.hasPrefix("xox") { return true }
        return word.count >= 32 && word.contains(where: \.isNumber) && word.contains(where: \.isLetter)
    }
}
