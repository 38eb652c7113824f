import NIOCore

/// One server-sent event: its `event:` name (if any), its `data:` lines joined by newlines, and
/// the raw bytes it arrived as (forwarded unchanged when the dialect does not change).
public struct SSEEvent: Sendable {
    public var event: String?
    public var data: String
    /// The `id:` field (MCP resumption), if any.
    public var id: String?
    public var raw: ByteBuffer

    public init(event: String? = nil, data: String, id: String? = nil, raw: ByteBuffer) {
        self.event = event
        self.data = data
        self.id = id
        self.raw = raw
    }
}

/// Splits a text/event-stream into events as bytes arrive (WHATWG HTML §9.2): lines end in
/// LF, CR or CRLF; a blank line ends an event; `:` lines are comments. Bounded: an event larger
/// than `maxEventBytes` is an error, so a provider cannot make us buffer without end.
public struct SSEParser {
    public static let maxEventBytes = 8 * 1024 * 1024
    private var pending = ByteBuffer()
    public struct TooLarge: Error {}

    public init() {}

    /// Appends `bytes` and returns the events now complete.
    public mutating func feed(_ bytes: ByteBuffer) throws -> [SSEEvent] {
        var bytes = bytes
        pending.writeBuffer(&bytes)
        var out: [SSEEvent] = []
        while let end = eventEnd() {
            let raw = pending.readSlice(length: end)!
            out.append(Self.parse(raw))
        }
        if pending.readableBytes > Self.maxEventBytes { throw TooLarge() }
        if pending.readableBytes == 0 { pending.clear() }
        return out
    }

    /// What is left when the stream ends without a final blank line (an event per the spec is
    /// only dispatched on a blank line, but providers sometimes omit the last one).
    public mutating func finish() -> SSEEvent? {
        guard pending.readableBytes > 0 else { return nil }
        let raw = pending.readSlice(length: pending.readableBytes)!
        let e = Self.parse(raw)
        return e.data.isEmpty && e.event == nil ? nil : e
    }

    /// Where the search for the end of the pending event resumes (bytes already looked at), and
    /// whether that point starts a line: each byte is scanned once however the event is split.
    private var scanned = 0
    private var atLineStart = true

    /// The length up to and including the blank line that ends the first event, if present.
    private mutating func eventEnd() -> Int? {
        let found: (end: Int?, resume: Int, lineStart: Bool) = pending.withUnsafeReadableBytes { bytes in
            var i = scanned
            var lineStart = atLineStart
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x0A || b == 0x0D {
                    var next = i + 1
                    if b == 0x0D {
                        if next == bytes.count { return (nil, i, lineStart) }  // CR at the end: maybe CRLF follows
                        if bytes[next] == 0x0A { next += 1 }
                    }
                    if lineStart { return (next, 0, true) }
                    lineStart = true
                    i = next
                    continue
                }
                lineStart = false
                i += 1
            }
            return (nil, i, lineStart)
        }
        scanned = found.resume
        atLineStart = found.lineStart
        return found.end
    }

    private static func parse(_ raw: ByteBuffer) -> SSEEvent {
        let text = String(buffer: raw)
        var event: String?
        var id: String?
        var data: [Substring] = []
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            if line.hasPrefix(":") { continue }
            let field: Substring
            var value: Substring
            if let colon = line.firstIndex(of: ":") {
                field = line[..<colon]
                value = line[line.index(after: colon)...]
                if value.hasPrefix(" ") { value = value.dropFirst() }
            } else {
                field = line
                value = ""
            }
            switch field {
            case "event": event = String(value)
            case "data": data.append(value)
            case "id": id = String(value)
            default: break
            }
        }
        return SSEEvent(event: event, data: data.joined(separator: "\n"), id: id, raw: raw)
    }
}

extension ByteBuffer {
    /// Appends one SSE event (`event:` line if named, then the data).
    public mutating func writeSSE(event: String? = nil, data: JSONValue) {
        if let event { writeString("event: \(event)\n") }
        writeStaticString("data: ")
        data.write(to: &self)
        writeStaticString("\n\n")
    }
}
