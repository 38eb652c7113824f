@testable import GatewayCore
import NIOCore
import NIOEmbedded
import Testing

/// Held flushes on an embedded channel: what is written goes out when the loop runs its
/// tasks (the end of the tick), not at the hold.
@Suite struct LoopFlushesTests {
    /// Writes into its channel and holds the flush, as the client and upstream handlers do.
    final class Writer: HeldFlushWriter {
        let channel: EmbeddedChannel
        let flushes: LoopFlushes
        var held = false
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
            held = true
            flushes.hold(self)
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

    @Test func writesGoOutAtTheEndOfTheTickWithOneFlushPerWriter() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop)
        let a = EmbeddedChannel(loop: loop), b = EmbeddedChannel(loop: loop)
        let wa = Writer(channel: a, flushes: flushes), wb = Writer(channel: b, flushes: flushes)
        wa.write("a1")
        wb.write("b1")
        wa.write("a2")
        #expect(try outbound(a).isEmpty)
        #expect(try outbound(b).isEmpty)
        loop.run()
        #expect(try outbound(a) == ["a1", "a2"])
        #expect(try outbound(b) == ["b1"])
        #expect(wa.flushed == 1 && wb.flushed == 1)
        // A later tick holds again.
        wb.write("b2")
        loop.run()
        #expect(try outbound(b) == ["b2"])
        #expect(wb.flushed == 2)
        _ = try a.finish()
        _ = try b.finish()
    }

    @Test func aWriteMadeWhileFlushingGoesOutInTheNextTask() throws {
        let loop = EmbeddedEventLoop()
        let flushes = LoopFlushes(eventLoop: loop)
        let a = EmbeddedChannel(loop: loop)
        let w = Writer(channel: a, flushes: flushes)
        w.writeWhenFlushed = "second"
        w.write("first")
        // The embedded loop runs tasks queued by tasks in the same run, as NIO's next tick would.
        loop.run()
        #expect(try outbound(a) == ["first", "second"])
        #expect(w.flushed == 2)
        #expect(!w.held)
        _ = try a.finish()
    }
}
