import NIOCore
import NIOEmbedded
import Testing

@testable import MCPGate

/// What a stdio program can make the gate hold: one line of at most `maxLength`, and a bounded
/// share of the log.
@Suite struct StdioBoundsTests {
    @Test func linesAreSplitAcrossReadsAndTooLongOnesRefused() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(BoundedLineDecoder(maxLength: 8)))
        try channel.writeInbound(ByteBuffer(string: "{\"a\""))
        try channel.writeInbound(ByteBuffer(string: ":1}\r\n{}\n12345"))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "{\"a\":1}")
        #expect(try channel.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "{}")
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(throws: BoundedLineDecoder.LineTooLong.self) { try channel.writeInbound(ByteBuffer(string: "6789")) }
        _ = try? channel.finish()
        // A line of exactly the maximum passes; one byte more with its newline does not.
        let exact = EmbeddedChannel(handler: ByteToMessageHandler(BoundedLineDecoder(maxLength: 8)))
        try exact.writeInbound(ByteBuffer(string: "12345678\n"))
        #expect(try exact.readInbound(as: ByteBuffer.self).map { String(buffer: $0) } == "12345678")
        #expect(throws: BoundedLineDecoder.LineTooLong.self) { try exact.writeInbound(ByteBuffer(string: "123456789\n")) }
        _ = try? exact.finish()
    }

    @Test func stderrIsRateLimitedAndLongLinesCut() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let log = LogLineLimiter(perSecond: 3, maxLineBytes: 5, now: start)
        let first = log.admit(["a", "b", "123456789", "d", "e"].map { Substring($0) }, now: start)
        #expect(first.lines == ["a", "b", "12345…"] && first.suppressedBefore == 0)
        #expect(log.admit([Substring("f")], now: start + .milliseconds(500)).lines.isEmpty)
        let later = log.admit([Substring("g"), Substring("h")], now: start + .seconds(1))
        #expect(later.lines == ["g", "h"] && later.suppressedBefore == 3)
    }
}
