import NIOCore

/// One server-sent event: its `event:` name (if any), its `data:` lines joined by newlines, and
/// the raw bytes it arrived as (forwarded unchanged when the dialect does not change).
package struct SSEEvent: Sendable {
    package var event: String?
    package var data: String
    /// The `id:` field (MCP resumption), if any.
    package var id: String?
    package var raw: ByteBuffer

    package init(event: String? = nil, data: String, id: String? = nil, raw: ByteBuffer) {
        self.event = event
        self.data = data
        self.id = id
        self.raw = raw
    }
}

/// Splits a text/event-stream into events as bytes arrive (WHATWG HTML §9.2): lines end in
/// LF, CR or CRLF; a blank line ends an event; `:` lines are comments. Bounded: an event larger
/// than `maxEventBytes` is an error, so a provider cannot make us buffer without end.
package struct SSEParser {
    package static let maxEventBytes = 8 * 1024 * 1024
    private var pending = ByteBuffer()
    package struct TooLarge: Error {}

    package init() {}

    /// Appends `bytes` and returns the events now complete.
    package mutating func feed(_ bytes: ByteBuffer) throws -> [SSEEvent] {
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
    package mutating func finish() -> SSEEvent? {
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

    /// One event's fields, read from its bytes: lines end in LF, CR or CRLF; a field's value
    /// follows its first colon, less one leading space; `data` lines are joined by LF. Bytes, not
    /// characters: splitting the text by `Character` breaks graphemes at every byte, and that
    /// was most of a stream's cost at the gateway. (`:`, space, CR and LF are ASCII, which never
    /// occurs inside a multi-byte UTF-8 sequence.)
    static func parse(_ raw: ByteBuffer) -> SSEEvent {
        raw.withUnsafeReadableBytes { b in
            var event: String?, id: String?
            // Usually one data line: its range; more are joined into `joined`.
            var firstData: Range<Int>?
            var joined: [UInt8]?
            var i = 0
            while i < b.count {
                var end = i
                while end < b.count, b[end] != 0x0A, b[end] != 0x0D { end += 1 }
                let line = i..<end
                i = end < b.count && b[end] == 0x0D && end + 1 < b.count && b[end + 1] == 0x0A ? end + 2 : end + 1
                guard !line.isEmpty, b[line.lowerBound] != UInt8(ascii: ":") else { continue }
                var colon = line.lowerBound
                while colon < line.upperBound, b[colon] != UInt8(ascii: ":") { colon += 1 }
                let name = UnsafeRawBufferPointer(rebasing: b[line.lowerBound..<colon])
                var valueStart = min(colon + 1, line.upperBound)
                if valueStart < line.upperBound, b[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
                let value = valueStart..<line.upperBound
                if name.elementsEqual("data".utf8) {
                    if let first = firstData {
                        if joined == nil { joined = Array(b[first]) }
                        joined!.append(0x0A)
                        joined!.append(contentsOf: b[value])
                    } else {
                        firstData = value
                    }
                } else if name.elementsEqual("event".utf8) {
                    event = String(decoding: b[value], as: UTF8.self)
                } else if name.elementsEqual("id".utf8) {
                    id = String(decoding: b[value], as: UTF8.self)
                }
            }
            let data = joined.map { String(decoding: $0, as: UTF8.self) } ?? firstData.map { String(decoding: b[$0], as: UTF8.self) } ?? ""
            return SSEEvent(event: event, data: data, id: id, raw: raw)
        }
    }
}

extension ByteBuffer {
    /// Appends one SSE event (`event:` line if named, then the data).
    package mutating func writeSSE(event: String? = nil, data: JSONValue) {
        if let event { writeString("event: \(event)\n") }
        writeStaticString("data: ")
        data.write(to: &self)
        writeStaticString("\n\n")
    }
}
