import NIOCore

/// A RESP2 reply.
package enum RESPValue: Sendable, Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    /// nil for the null bulk string.
    case bulk(ByteBuffer?)
    /// nil for the null array.
    case array([RESPValue]?)

    package var int: Int? {
        switch self {
        case .integer(let i): return i
        case .bulk(let b?): return Int(String(buffer: b))
        case .simple(let s): return Int(s)
        default: return nil
        }
    }

    package var string: String? {
        switch self {
        case .simple(let s): return s
        case .bulk(let b?): return String(buffer: b)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// Writes a command as a RESP array of bulk strings.
    static func writeCommand(_ args: [String], to buffer: inout ByteBuffer) {
        buffer.writeString("*\(args.count)\r\n")
        for a in args {
            buffer.writeString("$\(a.utf8.count)\r\n")
            buffer.writeString(a)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Parses one reply from the front of `buffer`; nil (buffer untouched) when it is not all
    /// there yet. Throws on bytes that are not RESP.
    static func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var copy = buffer
        guard let value = try parseOne(&copy) else { return nil }
        buffer = copy
        return value
    }

    private static func line(_ b: inout ByteBuffer) -> String? {
        let view = b.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")), cr + 1 < view.endIndex, view[cr + 1] == UInt8(ascii: "\n") else { return nil }
        let length = cr - view.startIndex
        let s = b.readString(length: length)
        b.moveReaderIndex(forwardBy: 2)
        return s
    }

    private static func parseOne(_ b: inout ByteBuffer) throws -> RESPValue? {
        guard let type = b.readInteger(as: UInt8.self) else { return nil }
        guard let text = line(&b) else { return nil }
        switch type {
        case UInt8(ascii: "+"): return .simple(text)
        case UInt8(ascii: "-"): return .error(text)
        case UInt8(ascii: ":"):
            guard let i = Int(text) else { throw RedisError.protocolViolation("bad integer \(text)") }
            return .integer(i)
        case UInt8(ascii: "$"):
            guard let n = Int(text) else { throw RedisError.protocolViolation("bad length \(text)") }
            if n < 0 { return .bulk(nil) }
            guard b.readableBytes >= n + 2, let data = b.readSlice(length: n) else { return nil }
            b.moveReaderIndex(forwardBy: 2)
            return .bulk(data)
        case UInt8(ascii: "*"):
            guard let n = Int(text) else { throw RedisError.protocolViolation("bad count \(text)") }
            if n < 0 { return .array(nil) }
            var items: [RESPValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n {
                guard let item = try parseOne(&b) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw RedisError.protocolViolation("unknown reply type \(type)")
        }
    }
}

/// Why a Redis command failed.
package enum RedisError: Error, Sendable, Equatable {
    case connectionFailed(String)
    case connectionClosed
    case timeout
    case protocolViolation(String)
    case server(String)
}
