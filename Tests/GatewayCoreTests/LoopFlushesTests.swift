@testable import GatewayCore
import NIOCore
import NIOEmbedded
import Testing

/// Held flushes on an embedded channel: the tick's first flush goes at once; later ones go
/// when the loop runs its tasks (the end of the tick).
@Suite struct LoopFlushesTests {
    /// Writes into its channel and holds the flush, as the client and upstream handlers do.
    final class Writer: HeldFlushWriter {
        let channel: EmbeddedChannel
        let flushes: LoopFlushes
        var held = false
        /// Flushes made at the end of a tick.
        var flushed = 0
        /// Written and held again from inside the next flush (a write completing a promise
        /// whose callback writes more).
        var writeWhenFlushed: String?

        init(channel: EmbeddedChannel, flushes: LoopFlushes) {
            self.channel = channel
            self.flushes = flushes
        }

        func write(_ text: String) {
            channel.write(channel.allocator.buffer(string: text), promise: nil)
            guard !held else { return }
            if flushes.hold(self) { held = true } else { channel.flush() }
        }

        func flushHeldWrites() {
            held = false
            flushed += 1
            channel.flush()
            if let more = writeWhenFlushed {
                writeWhenFlushed = nil
                write(more)
            }
        }
    }

    func outbound(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) { out.append(String(buffer: b)) }
        return out
    }

    @Test func theTicksFirstFlushGoesAtOnceAndTheRestAtTheEndOfTheTick() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop)
        let a = EmbeddedChannel(loop: loop), b = EmbeddedChannel(loop: loop), c = EmbeddedChannel(loop: loop)
        let wa = Writer(channel: a, flushes: flushes), wb = Writer(channel: b, flushes: flushes), wc = Writer(channel: c, flushes: flushes)
        wa.write("a1")
        #expect(try outbound(a) == ["a1"])
        wb.write("b1")
        wc.write("c1")
        wb.write("b2")
        #expect(try outbound(b).isEmpty)
        #expect(try outbound(c).isEmpty)
        loop.run()
        #expect(try outbound(b) == ["b1", "b2"])
        #expect(try outbound(c) == ["c1"])
        #expect(wb.flushed == 1 && wc.flushed == 1 && wa.flushed == 0)
        // The next tick starts over: its first flush goes at once.
        wc.write("c2")
        #expect(try outbound(c) == ["c2"])
        wb.write("b3")
        #expect(try outbound(b).isEmpty)
        loop.run()
        #expect(try outbound(b) == ["b3"])
        for ch in [a, b, c] { _ = try ch.finish() }
    }

    @Test func aWriteMadeWhileFlushingGoesOutTooAsTheNextTicksFirst() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop)
        let a = EmbeddedChannel(loop: loop), b = EmbeddedChannel(loop: loop)
        let first = Writer(channel: a, flushes: flushes), w = Writer(channel: b, flushes: flushes)
        first.write("x")
        w.writeWhenFlushed = "second"
        w.write("first")
        #expect(try outbound(b).isEmpty)
        loop.run()
        #expect(try outbound(b) == ["first", "second"])
        #expect(w.flushed == 1)
        #expect(!w.held)
        _ = try a.finish()
        _ = try b.finish()
    }
}
