import Crypto
import GatewayCore

/// The names agents see for upstream tools and prompts: the server's prefix + separator +
/// `name`, made valid for every client (`^[a-zA-Z0-9_-]{1,64}$`: other characters become `_`),
/// hashed down to `maxLength` when longer, and made unique (a name that collides gets a hash
/// suffix). The prefix never contains the separator (`MCPToolNames.serverPrefix`), so two
/// servers cannot produce one name; which tool keeps a name once given is `ToolNameBook`'s.
struct ToolNaming: Sendable {
    var separator: String
    var maxLength: Int

    /// A fresh exposed name for `name` on `server`, unique among `taken` (which it is added to).
    func exposedName(server: String, name: String, taken: inout Set<String>) -> String {
        var candidate = MCPToolNames.serverPrefix(server, separator: separator) + separator + Self.sanitize(name)
        if candidate.utf8.count > maxLength { candidate = hashed(candidate, server: server, name: name) }
        if taken.contains(candidate) { candidate = hashed(candidate, server: server, name: name) }
        // A hash collision on top of a name collision: extend until unique (never in practice).
        var n = 2
        while taken.contains(candidate) {
            candidate = hashed(candidate, server: server, name: name + "#\(n)")
            n += 1
        }
        taken.insert(candidate)
        return candidate
    }

    /// The first `maxLength - 9` characters, `_`, and 8 hex digits of SHA-256("server/name").
    private func hashed(_ candidate: String, server: String, name: String) -> String {
        let digest = SHA256.hash(data: Array("\(server)/\(name)".utf8))
        let hex = digest.prefix(4).map { String($0, radix: 16).leftPadded(2) }.joined()
        return String(candidate.prefix(maxLength - 9)) + "_" + hex
    }

    /// Replaces every character outside `[a-zA-Z0-9_-]` with `_`.
    static func sanitize(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { c in
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-")) ? c : "_"
        }))
    }

    /// Whether `name` is valid for clients.
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && sanitize(name) == name
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A `*` glob over `server.name` (`github.*`, `files.read_*`, `*`): `*` matches any run of
/// characters, everything else itself.
struct Glob: Sendable, Hashable {
    let pattern: String
    private let parts: [Substring]

    init(_ pattern: String) {
        self.pattern = pattern
        parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
    }

    func matches(_ text: String) -> Bool {
        if parts.count == 1 { return text == pattern }
        var rest = Substring(text)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let r = rest.range(of: part) else { return false }
            rest = rest[r.upperBound...]
        }
        return rest.hasSuffix(parts[parts.count - 1])
    }
}
