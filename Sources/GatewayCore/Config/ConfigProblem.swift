/// One problem found in a config file, named by its path (`services[2].routes[0].paths[1]`).
package struct ConfigProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is, in the config's own key names; empty for the whole file.
    package var path: String
    /// What is wrong, phrased for the person editing the file.
    package var message: String

    package init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    package var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// All problems of one config file. Validation never stops at the first one: the user fixes
/// the file in one pass.
package struct ConfigProblems: Error, Sendable, CustomStringConvertible {
    package var source: String
    package var problems: [ConfigProblem]

    package init(source: String, problems: [ConfigProblem]) {
        self.source = source
        self.problems = problems
    }

    package var description: String {
        let header = "\(source): \(problems.count) problem\(problems.count == 1 ? "" : "s")"
        return ([header] + problems.map { "  \($0)" }).joined(separator: "\n")
    }
}

/// Collects problems while a config tree is read; shared by every reader of one file.
package final class ProblemCollector {
    package private(set) var problems: [ConfigProblem] = []
    /// Every key a reader looked up, by its generic path (`ConfigKey.genericPath`), when asked
    /// for (`GatewayConfig.keysRead`): how a test holds the declared keys to what is read.
    var lookups: Set<String>?

    package init() {}

    package func add(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path: path, message: message))
    }
}
