import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import MCPGate

/// Messages outside any request, before and after the agent opens its GET stream.
@Suite struct AgentSessionTests {
    func session() -> AgentSession {
        AgentSession(id: "s", principal: "p", protocolVersion: "2025-11-25", clientCapabilities: .object([]), path: "/mcp", now: 0)
    }

    func message(_ n: Int) -> ByteBuffer { ByteBuffer(string: "m\(n)") }

    @Test func messagesBeforeTheStreamOpensGoDownItFirstInOrder() {
        let s = session()
        #expect(!s.notify(message(1)))
        #expect(!s.notify(message(2)))
        #expect(s.waitingCount == 2)
        let got = NIOLockedValueBox<[String]>([])
        s.setStandalone { m in got.withLockedValue { $0.append(String(buffer: m)) } }
        #expect(s.notify(message(3)))
        #expect(got.withLockedValue { $0 } == ["m1", "m2", "m3"])
        #expect(s.waitingCount == 0)
        // Closed, a message waits again for the next stream.
        s.setStandalone(nil)
        #expect(!s.notify(message(4)))
        s.setStandalone { m in got.withLockedValue { $0.append(String(buffer: m)) } }
        #expect(got.withLockedValue { $0 } == ["m1", "m2", "m3", "m4"])
    }

    @Test func atMostTheLimitWaitsAndTheOldestGoFirst() {
        let s = session()
        let n = AgentSession.waitingLimit + 3
        for i in 1...n { s.notify(message(i)) }
        #expect(s.waitingCount == AgentSession.waitingLimit)
        let got = NIOLockedValueBox<[String]>([])
        s.setStandalone { m in got.withLockedValue { $0.append(String(buffer: m)) } }
        #expect(got.withLockedValue { $0 } == (4...n).map { "m\($0)" })
    }

    @Test func anEndedSessionKeepsNothing() {
        let s = session()
        s.notify(message(1))
        s.end()
        #expect(s.waitingCount == 0)
        s.notify(message(2))
        #expect(s.waitingCount == 0)
    }
}
