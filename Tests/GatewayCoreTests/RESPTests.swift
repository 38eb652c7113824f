@testable import GatewayCore
import NIOCore
import Testing

@Suite struct RESPTests {
    func parseAll(_ text: String) throws -> [RESPValue] {
        var b = ByteBuffer(string: text)
        var out: [RESPValue] = []
        while let v = try RESPValue.parse(&b) { out.append(v) }
        return out
    }

    @Test func parsesEveryReplyType() throws {
        let replies = try parseAll("+OK\r\n-ERR nope\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n*-1\r\n")
        #expect(replies == [
            .simple("OK"), .error("ERR nope"), .integer(42), .bulk(ByteBuffer(string: "hello")), .bulk(nil),
            .array([.integer(1), .bulk(ByteBuffer(string: "x"))]), .array(nil),
        ])
    }

    @Test func aPartialReplyWaitsForMoreBytesWithoutConsumingAny() throws {
        for partial in ["+OK", "$5\r\nhel", "*2\r\n:1\r\n", ":4"] {
            var b = ByteBuffer(string: partial)
            #expect(try RESPValue.parse(&b) == nil)
            #expect(b.readableBytes == partial.utf8.count)
        }
    }

    @Test func garbageIsAProtocolViolation() {
        var b = ByteBuffer(string: "?what\r\n")
        #expect(throws: RedisError.self) { try RESPValue.parse(&b) }
    }

    @Test func commandsAreArraysOfBulkStrings() {
        var b = ByteBuffer()
        RESPValue.writeCommand(["SET", "k", "välue"], to: &b)
        #expect(String(buffer: b) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n")
    }
}
