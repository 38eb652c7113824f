import GatewayCore
@testable import MCPGate
import Testing

@Suite struct SessionTableTests {
    let second: Int64 = 1_000_000_000

    func open(_ t: SessionTable, _ principal: String, at now: Int64) -> AgentSession? {
        t.open(principal: principal, protocolVersion: "2025-11-25", clientCapabilities: .object([]), path: "/mcp", now: now)
    }

    @Test func idsAreLongRandomAndVisibleASCII() {
        let ids = (0..<1000).map { _ in SessionTable.newID() }
        #expect(Set(ids).count == 1000)
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy { $0.isHexDigit } })
    }

    @Test func aSessionIsFoundOnlyByItsPrincipal() throws {
        let t = SessionTable(idle: .seconds(60), capacity: 10)
        let s = try #require(open(t, "alice", at: 0))
        #expect(t.find(s.id, principal: "alice", now: 1) === s)
        #expect(t.find(s.id, principal: "bob", now: 1) == nil)
        #expect(t.close(s.id, principal: "bob") == nil)
        #expect(t.close(s.id, principal: "alice") === s)
        #expect(t.find(s.id, principal: "alice", now: 2) == nil)
    }

    @Test func idleSessionsExpireAndUseKeepsThemAlive() throws {
        let t = SessionTable(idle: .seconds(10), capacity: 10)
        let a = try #require(open(t, "p", at: 0))
        let b = try #require(open(t, "p", at: 0))
        #expect(t.find(a.id, principal: "p", now: 9 * second) != nil)   // touched at 9 s
        #expect(t.find(a.id, principal: "p", now: 18 * second) != nil)  // 9 s idle: alive
        #expect(t.find(b.id, principal: "p", now: 11 * second) == nil)  // 11 s idle: gone
        #expect(t.sweep(now: 40 * second) == 1)
        #expect(t.count == 0)
    }

    @Test func theTableIsBoundedAndFreesIdleSessionsFirst() throws {
        let t = SessionTable(idle: .seconds(10), capacity: 2)
        _ = try #require(open(t, "p", at: 0))
        _ = try #require(open(t, "p", at: 5 * second))
        #expect(open(t, "p", at: 6 * second) == nil)        // full, nothing idle
        #expect(open(t, "p", at: 11 * second) != nil)       // the first went idle and made room
        #expect(t.count == 2)
    }

    /// One consumer opening session after session cannot fill the table: at its quota, its own
    /// least recently used session is ended; other principals' sessions are untouched.
    @Test func onePrincipalCannotFillTheTable() throws {
        let t = SessionTable(idle: .seconds(1800), capacity: 10, perPrincipal: 3)
        let bob = try #require(open(t, "bob", at: 0))
        var mallory: [AgentSession] = []
        for i in 0..<50 { mallory.append(try #require(open(t, "mallory", at: Int64(i + 1) * second))) }
        #expect(t.count == 4)
        #expect(t.find(bob.id, principal: "bob", now: 60 * second) === bob)
        #expect(t.find(mallory[0].id, principal: "mallory", now: 60 * second) == nil)
        #expect(t.find(mallory[49].id, principal: "mallory", now: 60 * second) != nil)
        // A session in use is kept over one left alone: the least recently used goes.
        _ = t.find(mallory[47].id, principal: "mallory", now: 61 * second)
        _ = try #require(open(t, "mallory", at: 62 * second))
        #expect(t.find(mallory[47].id, principal: "mallory", now: 63 * second) != nil)
        #expect(t.find(mallory[48].id, principal: "mallory", now: 63 * second) == nil)
        for i in 0..<6 { _ = try #require(open(t, "p\(i)", at: 64 * second)) }
        #expect(t.count == 10)
    }
}
