/// The severity of an MCP log message (`notifications/message`), RFC 5424's scale from the
/// least to the most severe.
enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case debug, info, notice, warning, error, critical, alert, emergency

    init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = level
    }

    var name: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        case .alert: "alert"
        case .emergency: "emergency"
        }
    }

    static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

    /// `_meta` key by which a 2026-07-28 request opts in to log messages, from a level up.
    static let metaKey = "io.modelcontextprotocol/logLevel"
}

/// Which log messages an upstream sent while serving a request reach the agent. Upstreams are
/// spoken to in the handshake revisions and send every level; the gate filters per agent:
/// a handshake-era session from the level it set with `logging/setLevel` (all until it sets
/// one), a 2026-07-28 request from the level in its `_meta` (none without it).
enum LogFilter: Sendable, Equatable {
    case all
    case atLeast(LogLevel)
    case none

    func admits(_ level: LogLevel) -> Bool {
        switch self {
        case .all: true
        case .atLeast(let floor): level >= floor
        case .none: false
        }
    }
}
