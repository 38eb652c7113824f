/// One problem found in a config file, named by its path (`services[2].routes[0].paths[1]`).
public struct ConfigProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is, in the config's own key names; empty for the whole file.
    public var path: String
    /// What is wrong, phrased for the person editing the file.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// All problems of one config file. Validation never stops at the first one: the user fixes
/// the file in one pass.
public struct ConfigProblems: Error, Sendable, CustomStringConvertible {
    public var source: String
    public var problems: [ConfigProblem]

    public init(source: String, problems: [ConfigProblem]) {
        self.source = source
        self.problems = problems
    }

    public var description: String {
        let header = "\(source): \(problems.count) problem\(problems.count == 1 ? "" : "s")"
        return ([header] + problems.map { "  \($0)" }).joined(separator: "\n")
    }
}

/// Collects problems while a config tree is read; shared by every reader of one file.
final class ProblemCollector {
    private(set) var problems: [ConfigProblem] = []

    func add(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path: path, message: message))
    }
}
