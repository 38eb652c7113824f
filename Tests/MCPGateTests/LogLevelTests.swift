import Testing

@testable import MCPGate

@Suite struct LogLevelTests {
    @Test func theEightLevelsInRFC5424Order() {
        let names = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
        #expect(names.compactMap(LogLevel.init(name:)) == LogLevel.allCases)
        #expect(LogLevel.allCases.map(\.name) == names)
        #expect(LogLevel.allCases == LogLevel.allCases.sorted())
        #expect(LogLevel(name: "Warning") == nil && LogLevel(name: "warn") == nil && LogLevel(name: "") == nil)
    }

    @Test func filtersAdmitFromTheirFloorUp() {
        #expect(LogLevel.allCases.allSatisfy(LogFilter.all.admits))
        #expect(!LogLevel.allCases.contains(where: LogFilter.none.admits))
        #expect(LogLevel.allCases.filter(LogFilter.atLeast(.warning).admits) == [.warning, .error, .critical, .alert, .emergency])
    }

    @Test func aSessionTakesEveryLevelUntilItSetsOne() {
        let session = AgentSession(id: "s", principal: "p", protocolVersion: "2025-11-25", clientCapabilities: .object([]), path: "/mcp", now: 0)
        #expect(session.logFilter == .all)
        session.setLogLevel(.error)
        #expect(session.logFilter == .atLeast(.error))
    }
}
