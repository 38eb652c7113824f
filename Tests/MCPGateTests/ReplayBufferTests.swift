@testable import MCPGate
import NIOCore
import Testing

@Suite struct ReplayBufferTests {
    func event(_ stream: Int, _ seq: Int, final: Bool = false, size: Int = 10) -> ReplayBuffer.Event {
        ReplayBuffer.Event(stream: stream, seq: seq, message: ByteBuffer(string: String(repeating: "x", count: size)), final: final)
    }

    @Test func whatFollowedTheLastSeenEventIsReplayed() {
        var b = ReplayBuffer()
        let s = b.openStream(), other = b.openStream()
        b.record(event(s, 1))
        b.record(event(other, 1))
        b.record(event(s, 2))
        b.record(event(s, 3, final: true))
        let missed = b.after(stream: s, seq: 1)
        #expect(missed?.events.map(\.seq) == [2, 3] && missed?.ended == true)
        #expect(b.after(stream: s, seq: 3)?.events.isEmpty == true)
        #expect(b.after(stream: other, seq: 1)?.ended == false)
        #expect(b.after(stream: 99, seq: 0) == nil)
        #expect(ReplayBuffer.parse("3-17")! == (3, 17))
        #expect(ReplayBuffer.parse("x") == nil && ReplayBuffer.parse("1-2-3") == nil)
    }

    @Test func theBufferIsBoundedAndAGapIsNotPapered() {
        var b = ReplayBuffer()
        let s = b.openStream()
        for i in 1...(ReplayBuffer.maxEvents + 10) { b.record(event(s, i)) }
        #expect(b.events.count == ReplayBuffer.maxEvents)
        #expect(b.after(stream: s, seq: 1) == nil)  // events 2...11 are gone: cannot resume
        #expect(b.after(stream: s, seq: 20)?.events.first?.seq == 21)
        var big = ReplayBuffer()
        let t = big.openStream()
        for i in 1...10 { big.record(event(t, i, size: 1024 * 1024)) }
        #expect(big.events.count == 4)
    }
}
