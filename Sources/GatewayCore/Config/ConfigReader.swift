import Foundation
import Yams

/// Reads one node of a YAML config tree, reporting every type error with its path.
///
/// Decoding is written by hand rather than through `Decodable`: `Decodable` stops at the first
/// error and cannot tell a misspelled key (`burts:`) from an absent one, and a config check must
/// report every problem at once with its exact path.
package struct ConfigReader {
    let node: Node?
    /// The path of this node, as the user wrote the keys.
    package let path: String
    let collector: ProblemCollector
    let environment: [String: String]

    init(node: Node?, path: String, collector: ProblemCollector, environment: [String: String]) {
        self.node = node
        self.path = path
        self.collector = collector
        self.environment = environment
    }

    /// True when the key was absent or explicitly null.
    package var isAbsent: Bool {
        guard let node else { return true }
        if case .scalar(let s) = node, s.style == .plain, s.string == "~" || s.string == "null" || s.string.isEmpty { return true }
        return false
    }

    /// True when the node is a mapping (for values that may be written short or long).
    package var isMapping: Bool {
        if case .mapping = node { return true }
        return false
    }

    /// A reader of an empty mapping at this reader's path (for `- rate_limit:` with no options).
    static func empty(like r: ConfigReader) -> ConfigObject {
        ConfigObject(mapping: Node.Mapping([]), reader: r)
    }

    /// Records a problem at this node's path.
    package func problem(_ message: String) {
        collector.add(path, message)
    }

    /// Records a problem at a child path of this node (`[2]` for a list element).
    package func problem(at child: String, _ message: String) {
        collector.add(path.isEmpty ? child : child.hasPrefix("[") ? "\(path)\(child)" : "\(path).\(child)", message)
    }

    private var kindName: String {
        switch node {
        case .none: return "nothing"
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    private func scalarText() -> String? {
        guard !isAbsent else { return nil }
        guard case .scalar(let s) = node else {
            problem("must be a scalar (got \(kindName))")
            return nil
        }
        return s.string
    }

    /// A string, with `${ENV_VAR}` references replaced from the environment.
    package func string() -> String? {
        guard let raw = scalarText() else { return nil }
        return substitute(raw)
    }

    /// A string that must be present.
    package func requiredString() -> String? {
        if isAbsent {
            problem("is required")
            return nil
        }
        return string()
    }

    package func int(min: Int? = nil, max: Int? = nil) -> Int? {
        guard let raw = string() else { return nil }
        guard let value = Int(raw.replacingOccurrences(of: "_", with: "")) else {
            problem("must be an integer (got \"\(raw)\")")
            return nil
        }
        if let min, value < min { problem("must be >= \(min) (got \(value))"); return nil }
        if let max, value > max { problem("must be <= \(max) (got \(value))"); return nil }
        return value
    }

    package func double(min: Double? = nil, max: Double? = nil) -> Double? {
        guard let raw = string() else { return nil }
        guard let value = Double(raw) else {
            problem("must be a number (got \"\(raw)\")")
            return nil
        }
        if let min, value < min { problem("must be >= \(min) (got \(raw))"); return nil }
        if let max, value > max { problem("must be <= \(max) (got \(raw))"); return nil }
        return value
    }

    package func bool() -> Bool? {
        guard let raw = string() else { return nil }
        switch raw.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            problem("must be true or false (got \"\(raw)\")")
            return nil
        }
    }

    /// A duration such as `250ms`, `5s`, `2m`, `1h`; a bare number means seconds.
    package func duration() -> Duration? {
        guard let raw = string() else { return nil }
        guard let value = ConfigDuration.parse(raw) else {
            problem("must be a duration like 250ms, 5s, 2m or 1h (got \"\(raw)\")")
            return nil
        }
        return value
    }

    /// A size such as `64KiB`, `10MiB`, `1GiB` or a number of bytes.
    package func byteSize() -> Int? {
        guard let raw = string() else { return nil }
        guard let value = ConfigByteSize.parse(raw) else {
            problem("must be a size like 8KiB, 10MiB or a number of bytes (got \"\(raw)\")")
            return nil
        }
        return value
    }

    /// One of a fixed set of words.
    package func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type) -> T? where T.RawValue == String {
        guard let raw = string() else { return nil }
        guard let value = T(rawValue: raw) else {
            let allowed = T.allCases.map { $0.rawValue }.joined(separator: ", ")
            problem("must be one of \(allowed) (got \"\(raw)\")")
            return nil
        }
        return value
    }

    /// A list; each element read by `element`, which gets the element's own path.
    /// A single scalar is not promoted to a list: that would hide typos.
    package func list<T>(_ element: (ConfigReader) -> T?) -> [T]? {
        guard !isAbsent else { return nil }
        guard case .sequence(let seq) = node else {
            problem("must be a list (got \(kindName))")
            return nil
        }
        var out: [T] = []
        for (i, child) in seq.enumerated() {
            let reader = ConfigReader(node: child, path: "\(path)[\(i)]", collector: collector, environment: environment)
            if let v = element(reader) { out.append(v) }
        }
        return out
    }

    /// A mapping with keys known in advance, read through a `ConfigObject` that reports the keys
    /// the reader never asked for as unknown.
    package func object<T>(_ body: (ConfigObject) -> T) -> T? {
        guard !isAbsent else { return nil }
        guard case .mapping(let map) = node else {
            problem("must be a mapping (got \(kindName))")
            return nil
        }
        let object = ConfigObject(mapping: map, reader: self)
        let value = body(object)
        object.reportUnknownKeys()
        return value
    }

    /// A mapping with user-chosen keys (header names, for example), in file order.
    package func dictionary<T>(_ value: (String, ConfigReader) -> T?) -> [(String, T)]? {
        guard !isAbsent else { return nil }
        guard case .mapping(let map) = node else {
            problem("must be a mapping (got \(kindName))")
            return nil
        }
        var out: [(String, T)] = []
        for (k, v) in map {
            let key = k.string ?? ""
            let reader = ConfigReader(node: v, path: path.isEmpty ? key : "\(path).\(key)", collector: collector, environment: environment)
            if let parsed = value(key, reader) { out.append((key, parsed)) }
        }
        return out
    }

    /// Replaces `${NAME}` with the environment's value; an unset variable is a problem, never an
    /// empty string, because an empty secret would pass silently.
    private func substitute(_ raw: String) -> String {
        // A byte scan first: `String.contains("${")` goes through Foundation, and most values
        // have no `$` at all.
        guard raw.utf8.contains(UInt8(ascii: "$")), raw.contains("${") else { return raw }
        var out = ""
        var rest = Substring(raw)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                problem("has an unclosed ${ reference")
                return raw
            }
            let name = String(rest[start.upperBound..<end])
            if let value = environment[name] {
                out += value
            } else {
                problem("refers to ${\(name)}, which is not set in the environment")
            }
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }
}

/// A mapping whose keys are read by name; any key never read is reported as unknown.
package final class ConfigObject {
    private let mapping: Node.Mapping
    /// The mapping's keys as text, by position: a lookup compares strings instead of copying
    /// each (key, value) pair of nodes out of the mapping (a third of reading a large file).
    private let keys: [String?]
    private let reader: ConfigReader
    private var used: Set<String> = []

    fileprivate init(mapping: Node.Mapping, reader: ConfigReader) {
        self.mapping = mapping
        self.keys = mapping.map { $0.key.string }
        self.reader = reader
    }

    /// The path of this mapping.
    package var path: String { reader.path }

    /// The reader for `key`; absent keys give a reader whose `isAbsent` is true.
    package subscript(_ key: String) -> ConfigReader {
        used.insert(key)
        let child = keys.firstIndex(of: key).map { mapping[mapping.startIndex + $0].value }
        let path = reader.path.isEmpty ? key : "\(reader.path).\(key)"
        if reader.collector.lookups != nil { reader.collector.lookups?.insert(ConfigKey.genericPath(path)) }
        return ConfigReader(node: child, path: path, collector: reader.collector, environment: reader.environment)
    }

    /// Whether any of `keys` is present (used to avoid a second problem about a key whose
    /// value was already reported as invalid).
    package func hasAny(_ keys: [String]) -> Bool { keys.contains { has($0) } }

    /// Whether the mapping has `key` at all.
    package func has(_ key: String) -> Bool { keys.contains(key) }

    /// Records a problem at this mapping's path.
    package func problem(_ message: String) { reader.problem(message) }

    /// Records a problem at `path.key`.
    package func problem(at key: String, _ message: String) { reader.problem(at: key, message) }

    fileprivate func reportUnknownKeys() {
        for key in keys.lazy.map({ $0 ?? "?" }) {
            if !used.contains(key) {
                reader.problem(at: key, "unknown key")
            }
        }
    }
}

extension ConfigReader {
    /// Reads a whole YAML document (a provider file, say) with the same strict reader as the
    /// gateway config: `body` reads the top-level mapping; every problem is collected and
    /// thrown together, each with its path.
    package static func readDocument<T>(yaml: String, source: String, environment: [String: String] = [:],
                                       _ body: (ConfigObject) -> T) throws(ConfigProblems) -> T {
        let (root, collector) = try root(yaml: yaml, source: source, environment: environment)
        let value = root.object(body)
        if root.isAbsent { collector.add("", "is empty") }
        guard collector.problems.isEmpty, let value else {
            throw ConfigProblems(source: source, problems: collector.problems)
        }
        return value
    }

    /// The reader of a document's root node and the collector its problems go to; invalid YAML
    /// is thrown at once.
    static func root(yaml: String, source: String, environment: [String: String]) throws(ConfigProblems) -> (ConfigReader, ProblemCollector) {
        let node: Node?
        do {
            // No tag resolution: the readers take every scalar as text and convert it themselves,
            // and the default resolver ran seven regular expressions on every scalar (twice for
            // keys, in the duplicate check), ~60% of reading a file of 10,000 routes.
            node = try Yams.compose(yaml: yaml, .basic)
        } catch {
            throw ConfigProblems(source: source, problems: [ConfigProblem(path: "", message: "is not valid YAML: \(error)")])
        }
        let collector = ProblemCollector()
        return (ConfigReader(node: node, path: "", collector: collector, environment: environment), collector)
    }
}
