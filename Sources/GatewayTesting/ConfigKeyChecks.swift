import GatewayCore

/// What the tests of every module check of its declared config keys (`ConfigKey`): that they
/// are what the readers read, that their defaults are what the config gets without them, and
/// that no secret is ever printed.
package enum ConfigKeyChecks {
    /// Keys a reader looked up in `yaml` but nobody declared, and declared keys no reader looked
    /// up, among the paths `scope` admits. Containers (a key with keys below it) need no
    /// declaration of their own.
    package static func undeclaredAndUnread(yaml: String, sections: [any ConfigSection.Type], declared: [ConfigKeyTable],
                                            scope: (String) -> Bool) -> (undeclared: [String], unread: [String]) {
        let read = GatewayConfig.keysRead(yaml: yaml, sections: sections).filter(scope)
        let leaves = read.filter { p in !read.contains { $0.hasPrefix(p + ".") || $0.hasPrefix(p + "[].") } }
        let paths = Set(declared.flatMap { $0.keys.map(\.path) })
        return (leaves.subtracting(paths).sorted(), paths.subtracting(read).sorted())
    }

    /// Declared defaults that differ from what the config has without the key: for each key not
    /// in a list whose object the `base` config prints, `base` with the key set to its declared
    /// default must print the same effective config. Returns the keys that differ.
    package static func wrongDefaults(base: String, sections: [any ConfigSection.Type], declared: [ConfigKeyTable]) throws -> [String] {
        let plain = try GatewayConfig.parse(yaml: base, environment: [:], sections: sections).effectiveJSON
        var wrong: [String] = []
        for key in declared.flatMap(\.keys) {
            guard let value = key.defaultValue, !key.path.contains("[]") else { continue }
            let parts = key.path.split(separator: ".").map(String.init)
            // Only where the base config has the key's object (else setting one key makes it).
            var node: JSONValue? = plain
            for part in parts.dropLast() { node = node?[part] }
            guard case .object = node else { continue }
            var yaml = ""
            for (depth, part) in parts.enumerated() {
                yaml += String(repeating: "  ", count: depth) + part + ":" + (depth == parts.count - 1 ? " \(yamlScalar(value))\n" : "\n")
            }
            let merged = try? GatewayConfig.parse(yaml: merge(base, yaml), environment: [:], sections: sections).effectiveJSON
            if merged?.text != plain.text { wrong.append(key.path) }
        }
        return wrong
    }

    /// What is wrong with the secrets of `yaml`, a config that holds each declared secret as
    /// `SECRET-<its path>`: the secrets it does not hold, and whether the effective config shows
    /// any of them.
    package static func secretProblems(yaml: String, sections: [any ConfigSection.Type], declared: [ConfigKeyTable]) throws
        -> (notInConfig: [String], shown: Bool) {
        let printed = try GatewayConfig.parse(yaml: yaml, environment: [:], sections: sections).effectiveJSON.text
        let missing = declared.flatMap(\.keys).filter { $0.secret && !yaml.contains("SECRET-\($0.path)") }.map(\.path)
        return (missing, printed.contains("SECRET-"))
    }

    /// A default as YAML: lists and scalars as written, `/` and `*` quoted.
    private static func yamlScalar(_ value: String) -> String {
        value.hasPrefix("[") ? value : "\"\(value)\""
    }

    /// `extra`'s top-level sections merged into `base`: a section `base` has gets `extra`'s lines
    /// inserted under its key (our tests' bases write each section as a block).
    private static func merge(_ base: String, _ extra: String) -> String {
        let first = extra.prefix { $0 != "\n" }
        var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let at = lines.firstIndex(of: String(first)) {
            lines.insert(contentsOf: extra.split(separator: "\n").dropFirst().map(String.init), at: at + 1)
            return lines.joined(separator: "\n")
        }
        return base + "\n" + extra
    }
}
