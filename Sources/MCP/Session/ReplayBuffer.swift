import DequeModule
import NIOCore

/// The SSE events a session sent lately, so that an agent whose stream broke can reconnect
/// with `Last-Event-ID` and miss nothing (Streamable HTTP resumability). Event ids are
/// `<stream>-<seq>`: a stream is one POST answered as SSE, or the session's GET stream.
/// Bounded by count and bytes; the oldest events go first. A pure value: the session keeps it
/// behind its lock.
struct ReplayBuffer {
    struct Event: Equatable {
        var stream: Int
        var seq: Int
        var message: ByteBuffer
        /// The last event of its stream (a POST's answer).
        var final: Bool

        var id: String { "\(stream)-\(seq)" }
    }

    static let maxEvents = 256
    static let maxBytes = 4 * 1024 * 1024
    private(set) var events: Deque<Event> = []
    private var bytes = 0
    private var nextStream = 1

    /// A new stream's number.
    mutating func openStream() -> Int {
        defer { nextStream += 1 }
        return nextStream
    }

    mutating func record(_ e: Event) {
        events.append(e)
        bytes += e.message.readableBytes
        while events.count > Self.maxEvents || bytes > Self.maxBytes, let old = events.popFirst() {
            bytes -= old.message.readableBytes
        }
    }

    /// Parses `<stream>-<seq>`.
    static func parse(_ id: String) -> (stream: Int, seq: Int)? {
        let parts = id.split(separator: "-")
        guard parts.count == 2, let s = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        return (s, n)
    }

    /// The events of `stream` after `seq`, and whether the stream had ended (its final event is
    /// among them or before). Nil when the buffer no longer holds what followed `seq` (the agent
    /// cannot be told everything it missed).
    func after(stream: Int, seq: Int) -> (events: [Event], ended: Bool)? {
        let ofStream = Array(events.filter { $0.stream == stream })
        // Nothing kept of that stream (never made, or evicted), or a gap before what is kept.
        guard let first = ofStream.first, first.seq <= seq + 1 else { return nil }
        let missed = ofStream.filter { $0.seq > seq }
        return (missed, ofStream.contains { $0.final })
    }
}
