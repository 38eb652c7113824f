import Prometheus
import Testing

@testable import MCPGate

@Suite struct AgentOutboundTests {
    @Test func anAgentThatReadsTakesEverythingAndOneThatDoesNotAtMostItsBudget() {
        let registry = PrometheusCollectorRegistry()
        let outbound = AgentOutbound(dropped: AgentOutbound.makeCounter(registry))
        // Writable: no bound (the connection takes the bytes).
        for _ in 0..<100 { #expect(outbound.admit(AgentOutbound.budget)) }
        outbound.writabilityChanged(false)
        let size = 100_000
        var admitted = 0
        while outbound.admit(size) { admitted += 1 }
        #expect(admitted == AgentOutbound.budget / size)
        #expect(!outbound.admit(1_000_000))
        // A smaller message may still fit in what is left.
        #expect(outbound.admit(AgentOutbound.budget - admitted * size))
        #expect(!outbound.admit(1))
        // Reading again resets the budget.
        outbound.writabilityChanged(true)
        outbound.writabilityChanged(false)
        #expect(outbound.admit(size))
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self).contains("triplegate_mcp_agent_messages_dropped_total 3"))
    }
}
