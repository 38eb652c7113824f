@testable import GatewayCore
import NIOCore
import Testing

/// The frames an HTTP/2 connection writes, followed across writes: only a GOAWAY with an error
/// code ends the connection.
@Suite struct HTTP2ConnectionGuardTests {
    func frame(_ type: UInt8, stream: UInt32 = 0, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, 0,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    func read(_ chunks: [[UInt8]]) -> Bool {
        var f = OutboundFrames()
        for c in chunks { f.read(ByteBuffer(bytes: c)) }
        return f.failed
    }

    @Test func aGoAwayWithAnErrorCodeEndsTheConnection() {
        let settings = frame(0x4, [])
        let goAwayProtocolError = frame(0x7, [0, 0, 0, 3, 0, 0, 0, 1] + Array("bad".utf8))
        #expect(read([settings + goAwayProtocolError]))
        // However the bytes are split.
        let all = settings + frame(0x0, stream: 1, Array(repeating: 7, count: 40)) + goAwayProtocolError
        for cut in 1..<all.count { #expect(read([Array(all[..<cut]), Array(all[cut...])]), "\(cut)") }
    }

    @Test func aGracefulGoAwayOrAStreamResetDoesNot() {
        #expect(!read([frame(0x7, [0, 0, 0, 5, 0, 0, 0, 0])]))   // NO_ERROR: a shutdown
        #expect(!read([frame(0x3, stream: 1, [0, 0, 0, 1])]))     // RST_STREAM
        // An error code in a DATA payload is only data.
        #expect(!read([frame(0x0, stream: 1, [0, 0, 0, 7, 0, 0, 0, 1]), frame(0x1, stream: 3, [0x88])]))
    }
}
