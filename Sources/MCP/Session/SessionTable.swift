import GatewayCore
import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// The open agent sessions of this process. Ids come from the system CSPRNG (128 bits, hex);
/// a session is found only by the principal that opened it, so an id seen by another principal
/// is as good as unknown (404). Sessions idle longer than `idle` are gone; the table never
/// holds more than `capacity`, and one principal never more than `perPrincipal`: a principal
/// at its quota that opens another loses its least recently used one, so one consumer cannot
/// fill the table and lock every other agent out. Time is passed in (monotonic nanoseconds),
/// so tests control it.
final class SessionTable: Sendable {
    /// The sessions by id, and each principal's ids (for its quota, without a scan).
    struct Sessions {
        var byID: [String: AgentSession] = [:]
        var byPrincipal: [String: Set<String>] = [:]
        var count: Int { byID.count }

        subscript(id: String) -> AgentSession? {
            get { byID[id] }
            set {
                if let old = byID[id] { byPrincipal[old.principal]?.remove(id) }
                if let old = byID[id], byPrincipal[old.principal]?.isEmpty == true { byPrincipal[old.principal] = nil }
                byID[id] = newValue
                if let s = newValue { byPrincipal[s.principal, default: []].insert(id) }
            }
        }

        var values: Dictionary<String, AgentSession>.Values { byID.values }
    }

    private let sessions = NIOLockedValueBox(Sessions())
    let idleNanos: Int64
    private let capacity: Int
    private let perPrincipal: Int
    /// `triplegate_mcp_sessions`: open sessions, updated on every change.
    private let gauge: Gauge?
    /// `triplegate_mcp_sessions_evicted_total`: sessions ended because their principal was at its quota.
    private let evicted: Counter?

    init(idle: Duration, capacity: Int, perPrincipal: Int = .max, gauge: Gauge? = nil, evicted: Counter? = nil) {
        idleNanos = Int64(idle.components.seconds) * 1_000_000_000 + idle.components.attoseconds / 1_000_000_000
        self.capacity = capacity
        self.perPrincipal = perPrincipal
        self.gauge = gauge
        self.evicted = evicted
    }

    private func counted<T>(_ body: (inout Sessions) -> T) -> T {
        sessions.withLockedValue { all in
            let out = body(&all)
            gauge?.set(Double(all.count))
            return out
        }
    }

    var count: Int { sessions.withLockedValue { $0.count } }

    /// A new session, or nil when the table is full even after dropping idle ones.
    func open(principal: String, protocolVersion: String, clientCapabilities: JSONValue, path: String, now: Int64,
              id: String = SessionTable.newID(), push: (@Sendable (ByteBuffer) -> Void)? = nil, pushPace: AgentOutbound? = nil) -> AgentSession? {
        let session = AgentSession(id: id, principal: principal, protocolVersion: protocolVersion, clientCapabilities: clientCapabilities,
                                   path: path, now: now, push: push, pushPace: pushPace)
        let opened: Bool = counted { all in
            if let mine = all.byPrincipal[principal], mine.count >= perPrincipal {
                // At its quota: the principal's least recently used session makes room.
                if let oldest = mine.compactMap({ all[$0] }).min(by: { $0.lastUsed < $1.lastUsed }) {
                    all[oldest.id] = nil
                    oldest.end()
                    evicted?.increment()
                }
            }
            if all.count >= capacity { Self.dropIdle(&all, now: now, idle: idleNanos) }
            guard all.count < capacity else { return false }
            all[id] = session
            return true
        }
        return opened ? session : nil
    }

    /// The live session `id` of `principal`, touched; nil if unknown, expired or another's.
    func find(_ id: String, principal: String, now: Int64) -> AgentSession? {
        counted { all in
            guard let s = all[id] else { return nil }
            if now - s.lastUsed > idleNanos {
                all[id] = nil
                s.end()
                return nil
            }
            guard s.principal == principal else { return nil }
            s.touch(now: now)
            return s
        }
    }

    /// Ends `id` if `principal` owns it; returns the session ended.
    func close(_ id: String, principal: String) -> AgentSession? {
        counted { all in
            guard let s = all[id], s.principal == principal else { return nil }
            all[id] = nil
            s.end()
            return s
        }
    }

    /// Sends `message` to every session with a stream to take it; returns how many took it.
    @discardableResult
    func broadcast(_ message: ByteBuffer) -> Int {
        let all = sessions.withLockedValue { Array($0.values) }
        return all.reduce(0) { $0 + ($1.notify(message) ? 1 : 0) }
    }

    /// Sends a resource update to the sessions subscribed to `uri`.
    func notifySubscribers(of uri: String, _ message: ByteBuffer) {
        let all = sessions.withLockedValue { Array($0.values) }
        for s in all where s.isSubscribed(to: uri) { s.notify(message) }
    }

    /// Drops idle sessions; returns how many.
    @discardableResult
    func sweep(now: Int64) -> Int {
        counted { Self.dropIdle(&$0, now: now, idle: idleNanos) }
    }

    @discardableResult
    private static func dropIdle(_ all: inout Sessions, now: Int64, idle: Int64) -> Int {
        let idleOnes = all.values.filter { now - $0.lastUsed > idle }
        for s in idleOnes {
            all[s.id] = nil
            s.end()
        }
        return idleOnes.count
    }

    /// 128 random bits as 32 hex digits (visible ASCII, as the spec asks).
    static func newID() -> String {
        var rng = SystemRandomNumberGenerator()
        let a = rng.next() as UInt64, b = rng.next() as UInt64
        return hex(a) + hex(b)
    }

    private static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
