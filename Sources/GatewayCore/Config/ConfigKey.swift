import Foundation

/// One key of the config file, declared once with its reference: the type a value must have,
/// its default, one line of documentation, and whether it can hold a secret. The declarations
/// (the core's in `ConfigKeys`, each gate's in its `ConfigSection.keys`) are what
/// `docs/configuration.md`'s key tables are generated from (`triplegate config-reference`); tests
/// hold them to what the readers read (`GatewayConfig.keysRead`: no key read undeclared, none
/// declared unread) and to the effective config (no declared secret is ever printed).
package struct ConfigKey: Sendable, Hashable {
    /// The key's generic path: list positions as `[]`, and a policy's options under
    /// `policies[]` wherever the list is (`policies[].rate_limit.minute`).
    package let path: String
    /// What a value must be (`duration`, `size`, `bool`, `integer 1-256`, `one of: a, b`, ...).
    package let type: String
    /// The default as it is written in a file; nil when the key has none (absent is "off" or
    /// "none", said in `doc`) or is required.
    package let defaultValue: String?
    package let doc: String
    /// The value is a credential (a key, a password, a token): never printed.
    package let secret: Bool
    package let required: Bool

    package init(_ path: String, _ type: String, default defaultValue: String? = nil, required: Bool = false, secret: Bool = false,
                 _ doc: String) {
        self.path = path
        self.type = type
        self.defaultValue = defaultValue
        self.required = required
        self.secret = secret
        self.doc = doc
    }

    /// The type of a key that takes one of an enumeration's words, from the enumeration itself.
    package static func oneOf<T: CaseIterable & RawRepresentable>(_: T.Type) -> String where T.RawValue == String {
        "one of: " + T.allCases.map(\.rawValue).joined(separator: ", ")
    }

    /// The generic form of a concrete path (`services[2].routes[0].policies[1].jwt.audience` ->
    /// `policies[].jwt.audience`).
    package static func genericPath(_ path: String) -> String {
        var out = ""
        out.reserveCapacity(path.utf8.count)
        var inIndex = false
        for c in path {
            if c == "[" {
                inIndex = true
                out.append("[")
            } else if c == "]" {
                inIndex = false
                out.append("]")
            } else if !inIndex {
                out.append(c)
            }
        }
        if let r = out.range(of: "policies[].", options: .backwards) {
            return String(out[r.lowerBound...])
        }
        return out
    }
}

extension GatewayConfig {
    /// The generic paths of every key the readers looked up while reading `yaml` with
    /// `sections` (present in the file or not): the readers' own account of the keys they know.
    package static func keysRead(yaml: String, sections: [any ConfigSection.Type]) -> Set<String> {
        guard let (root, collector) = try? ConfigReader.root(yaml: yaml, source: "keys", environment: [:]) else { return [] }
        collector.lookups = []
        _ = root.object { GatewayConfig(reading: $0, sections: sections) }
        return collector.lookups ?? []
    }
}

/// The keys of one table of the reference, under a common prefix (`server`, `services[].upstream`).
package struct ConfigKeyTable: Sendable {
    /// Names the table's place in `docs/configuration.md` (`<!-- keys: ID -->`).
    package let id: String
    /// Left out of the key names the table shows (`server.limits.max_headers` shows as
    /// `limits.max_headers` in the `server` table).
    package let prefix: String
    package let keys: [ConfigKey]

    package init(_ id: String, prefix: String? = nil, _ keys: [ConfigKey]) {
        self.id = id
        self.prefix = prefix ?? id
        self.keys = keys
    }

    /// The table in Markdown.
    package var markdown: String {
        var out = "| key | type | default | meaning |\n|---|---|---|---|\n"
        for key in keys {
            let name = prefix.isEmpty ? key.path : String(key.path.dropFirst(prefix.count + 1))
            let value = key.required ? "required" : key.defaultValue.map { "`\($0)`" } ?? "none"
            let doc = key.doc + (key.secret ? " (a secret: never shown)" : "")
            out += "| `\(name)` | \(key.type) | \(value) | \(doc.replacingOccurrences(of: "|", with: "\\|")) |\n"
        }
        return out
    }

    /// `text` (a Markdown file) with every table put between its markers,
    /// `<!-- keys: ID -->` and `<!-- /keys -->`; throws for a table without a place, or a place
    /// without a table.
    package static func splice(_ tables: [ConfigKeyTable], into text: String) throws(SpliceError) -> String {
        var out = ""
        var rest = Substring(text)
        var placed = Set<String>()
        let byID = Dictionary(tables.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        while let open = rest.range(of: "<!-- keys: ") {
            guard let idEnd = rest[open.upperBound...].range(of: " -->"), let close = rest[idEnd.upperBound...].range(of: "<!-- /keys -->") else {
                throw SpliceError(message: "an unclosed <!-- keys: --> marker")
            }
            let id = String(rest[open.upperBound..<idEnd.lowerBound])
            guard let table = byID[id] else { throw SpliceError(message: "<!-- keys: \(id) --> names no table") }
            placed.insert(id)
            out += rest[..<idEnd.upperBound] + "\n" + table.markdown
            out += "<!-- /keys -->"
            rest = rest[close.upperBound...]
        }
        out += rest
        if let missing = tables.first(where: { !placed.contains($0.id) }) {
            throw SpliceError(message: "the table \(missing.id) has no <!-- keys: \(missing.id) --> marker")
        }
        return out
    }

    package struct SpliceError: Error, CustomStringConvertible {
        package let message: String
        package var description: String { message }
    }
}
