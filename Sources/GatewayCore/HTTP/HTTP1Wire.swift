import NIOCore

/// The pieces of HTTP/1.x text both of the data plane's encoders write
/// (`HTTP1ResponseEncoder` to clients, `HTTP1RequestEncoder` to upstreams).
enum HTTP1Wire {
    static func writeHeader(_ name: String, _ value: String, into out: inout ByteBuffer) {
        out.writeString(name)
        out.writeStaticString(": ")
        out.writeString(value)
        out.writeStaticString("\r\n")
    }

    static func writeHex(_ n: Int, into out: inout ByteBuffer) {
        let digits: StaticString = "0123456789abcdef"
        var shift = (Int.bitWidth - n.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            out.writeInteger(digits.utf8Start[(n >> shift) & 0xF])
            shift -= 4
        }
    }

    /// RFC 9110: a name is a token; a value has no control characters other than tab.
    static func isValid(name: String, value: String) -> Bool {
        guard !name.isEmpty else { return false }
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"),
                 UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "^"),
                 UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
                continue
            default:
                return false
            }
        }
        for b in value.utf8 where (b < 0x20 && b != 0x09) || b == 0x7F { return false }
        return true
    }
}
