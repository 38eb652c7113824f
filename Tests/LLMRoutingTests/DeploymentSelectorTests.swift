import NIOCore
import GatewayCore
import Testing

@testable import LLMRouting

@Suite struct DeploymentSelectorTests {
    func candidates(_ weights: [Int], prices: [Int64]? = nil) -> [DeploymentSelector.Candidate] {
        weights.enumerated().map { i, w in
            DeploymentSelector.Candidate(index: i, weight: w, state: DeploymentState(cooldown: LLMCooldownConfig()), price: prices?[i] ?? 0)
        }
    }

    @Test func weightedIsSmoothAndProportional() {
        var c = candidates([3, 1])
        let picks = (0..<8).map { _ in DeploymentSelector.pick(&c, routing: .weighted, tried: [], now: 0)! }
        #expect(picks == [0, 0, 1, 0, 0, 0, 1, 0])
    }

    @Test func zeroWeightAndCoolingDeploymentsAreSkipped() {
        var c = candidates([1, 0, 1])
        for _ in 0..<3 { c[0].state.health.recordFailure(now: 0) }
        #expect(!c[0].state.health.isAvailable(now: 1))
        let picks = (0..<4).map { _ in DeploymentSelector.pick(&c, routing: .weighted, tried: [], now: 1)! }
        #expect(picks == [2, 2, 2, 2])
        c[2].weight = 0
        #expect(DeploymentSelector.pick(&c, routing: .weighted, tried: [], now: 1) == nil)
        // Once the cooldown has passed it is back.
        #expect(DeploymentSelector.pick(&c, routing: .weighted, tried: [], now: 31_000_000_000) == 0)
    }

    @Test func triedDeploymentsAreAvoidedWhileOthersRemain() {
        var c = candidates([5, 1])
        #expect(DeploymentSelector.pick(&c, routing: .weighted, tried: [0], now: 0) == 1)
        #expect(DeploymentSelector.pick(&c, routing: .weighted, tried: [0, 1], now: 0) != nil)  // all tried: retry any
    }

    @Test func leastBusyPicksFewestInFlight() {
        var c = candidates([1, 1, 1])
        c[0].state.inFlight = 4
        c[1].state.inFlight = 1
        c[2].state.inFlight = 2
        #expect(DeploymentSelector.pick(&c, routing: .leastBusy, tried: [], now: 0) == 1)
    }

    @Test func lowestLatencyMeasuresEachThenPicksTheFastest() {
        var c = candidates([1, 1])
        c[0].state.recordLatency(nanos: 50_000_000)
        #expect(DeploymentSelector.pick(&c, routing: .lowestLatency, tried: [], now: 0) == 1)  // unmeasured first
        c[1].state.recordLatency(nanos: 200_000_000)
        #expect(DeploymentSelector.pick(&c, routing: .lowestLatency, tried: [], now: 0) == 0)
        // The EWMA follows a slowdown within a few samples.
        for _ in 0..<6 { c[0].state.recordLatency(nanos: 900_000_000) }
        #expect(DeploymentSelector.pick(&c, routing: .lowestLatency, tried: [], now: 0) == 1)
    }

    @Test func lowestCostPicksTheCheapestAndBreaksTiesByOrder() {
        var c = candidates([1, 1, 1], prices: [12_500_000, 3_000_000, 3_000_000])
        #expect(DeploymentSelector.pick(&c, routing: .lowestCost, tried: [], now: 0) == 1)
        #expect(DeploymentSelector.pick(&c, routing: .lowestCost, tried: [1], now: 0) == 2)
    }
}

@Suite struct SSEParserTests {
    func feed(_ parts: [String]) throws -> [SSEEvent] {
        var p = SSEParser()
        var out: [SSEEvent] = []
        for part in parts { out += try p.feed(ByteBuffer(string: part)) }
        if let last = p.finish() { out.append(last) }
        return out
    }

    @Test func eventsSplitAnywhereAreReassembled() throws {
        let text = "event: message_start\ndata: {\"a\":1}\n\n: comment\ndata: x\ndata: y\n\ndata: [DONE]\n\n"
        for cut in 0..<text.utf8.count {
            let bytes = Array(text.utf8)
            let events = try feed([String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)])
            #expect(events.map(\.data) == ["{\"a\":1}", "x\ny", "[DONE]"], "cut at \(cut)")
            #expect(events.first?.event == "message_start")
        }
    }

    @Test func crlfAndCrLineEndings() throws {
        #expect(try feed(["data: a\r\n\r\ndata: b\r\r", "data: c\r", "\n\r\n"]).map(\.data) == ["a", "b", "c"])
    }

    @Test func rawBytesAreKeptForPassthrough() throws {
        let e = try feed(["data: {\"x\": 1}\n\n"])
        #expect(String(buffer: e[0].raw) == "data: {\"x\": 1}\n\n")
    }

    @Test func fieldsAreReadAsTheSpecSays() throws {
        // One space after the colon is dropped, no more; a line without a colon is a field with
        // an empty value; unknown fields and comments are ignored; data lines join with LF.
        let e = try feed(["id: 7\r\nevent:delta\r\ndata:  two\r\n: note\r\nretry: 10\r\ndata\r\ndata:é🙂 \"x\"\r\n\r\n"])
        #expect(e.count == 1)
        #expect(e.first?.id == "7")
        #expect(e.first?.event == "delta")
        #expect(e.first?.data == " two\n\né🙂 \"x\"")
        // A field name is matched whole: `database` is not `data`, `events` not `event`.
        let other = try feed(["database: x\nevents: y\ndata: z\n\n"])
        #expect(other.first?.data == "z")
        #expect(other.first?.event == nil)
        // An event of only comments or unknown fields has no data.
        #expect(try feed([": keep-alive\n\n"]).map(\.data) == [""])
    }

    @Test func aLastEventWithoutBlankLineIsStillDelivered() throws {
        #expect(try feed(["data: a\n\ndata: tail"]).map(\.data) == ["a", "tail"])
    }

    @Test func anEndlessEventIsRefused() {
        var p = SSEParser()
        let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: SSEParser.maxEventBytes + 1)
        #expect(throws: SSEParser.TooLarge.self) { _ = try p.feed(big) }
    }
}
