import Crypto
import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// Tool-definition pinning: the SHA-256 of each upstream tool's definition (canonical JSON, so
/// key order and spacing do not count) is kept the first time the tool is seen. A definition
/// that later differs, the "rug pull" of a server that changes what a trusted tool does, is
/// flagged: a warning in the log and `triplegate_mcp_tool_definition_changes_total`. With
/// `mcp.pinning: quarantine` the changed tool is also withheld (absent from lists, refused on
/// call) until an operator approves the new definition (`POST /admin/mcp/tools/approve`).
/// Pins live in the store when there is one, so a restart trusts nothing anew.
package final class ToolPins: Sendable {
    package struct Pin: Sendable, Equatable {
        package var server: String
        package var tool: String
        /// The approved definition's hash.
        package var approved: String
        /// The hash of a changed definition not yet approved.
        package var pending: String?
    }

    private let pins = NIOLockedValueBox<[String: Pin]>([:])
    private let db: (any SQLDatabase)?
    private let logger: Logger
    private let changes: NIOLockedValueBox<PrometheusCollectorRegistry?> = NIOLockedValueBox(nil)

    /// Pins being written to the store; the gate waits for them when it stops.
    package let writes = BackgroundTasks()

    private init(db: (any SQLDatabase)?, logger: Logger) {
        self.db = db
        self.logger = logger
    }

    /// Pins kept in memory only (no store).
    package static func inMemory() -> ToolPins { ToolPins(db: nil, logger: Logger(label: "triplegate.mcp")) }

    /// Pins kept in `db`, loaded now.
    package static func open(_ db: any SQLDatabase) async throws -> ToolPins {
        try await db.query("""
            CREATE TABLE IF NOT EXISTS mcp_tool_pins (
              server TEXT NOT NULL, tool TEXT NOT NULL, approved TEXT NOT NULL, pending TEXT,
              PRIMARY KEY (server, tool)
            )
            """)
        let pins = ToolPins(db: db, logger: Logger(label: "triplegate.mcp"))
        let rows = try await db.query("SELECT server, tool, approved, pending FROM mcp_tool_pins")
        pins.pins.withLockedValue { all in
            for r in rows {
                guard let server = r["server"].text, let tool = r["tool"].text, let approved = r["approved"].text else { continue }
                all[server + "\u{0}" + tool] = Pin(server: server, tool: tool, approved: approved, pending: r["pending"].text)
            }
        }
        return pins
    }

    func use(registry: PrometheusCollectorRegistry) {
        changes.withLockedValue { $0 = registry }
    }

    package var all: [Pin] {
        pins.withLockedValue { Array($0.values) }.filter { !$0.tool.isEmpty }.sorted { ($0.server, $0.tool) < ($1.server, $1.tool) }
    }

    /// Whether `server`'s tools have been listed once (kept as a pin with an empty tool name):
    /// after that, under `quarantine`, a tool it adds waits for approval like a changed one.
    func hasListed(_ server: String) -> Bool {
        pins.withLockedValue { $0[server + "\u{0}"] != nil }
    }

    func markListed(_ server: String) {
        let key = server + "\u{0}"
        let added = pins.withLockedValue { all in
            guard all[key] == nil else { return false }
            all[key] = Pin(server: server, tool: "", approved: "listed")
            return true
        }
        if added { persist(key) }
    }

    /// Checks one listed definition; true when it may be shown (pinned now, unchanged, or
    /// changed but `quarantine` is off).
    /// A tool first seen after its server's first listing (`firstListing` false) is trusted on
    /// sight only without `quarantine`; with it, it is withheld like a changed definition: a
    /// server must not be able to slip a new tool in beside the ones an operator reviewed.
    func check(server: String, tool: String, definition: ByteBuffer, quarantine: Bool, firstListing: Bool = true) -> Bool {
        let hash = Self.hash(definition)
        let key = server + "\u{0}" + tool
        enum Outcome { case same, new, added, changed, stillPending }
        let outcome: Outcome = pins.withLockedValue { all in
            guard var pin = all[key] else {
                if quarantine, !firstListing {
                    all[key] = Pin(server: server, tool: tool, approved: "", pending: hash)
                    return .added
                }
                all[key] = Pin(server: server, tool: tool, approved: hash)
                return .new
            }
            if pin.approved == hash {
                if pin.pending != nil { pin.pending = nil; all[key] = pin; return .new }
                return .same
            }
            if pin.pending == hash { return .stillPending }
            pin.pending = hash
            all[key] = pin
            return .changed
        }
        switch outcome {
        case .same:
            return true
        case .new:
            persist(key)
            return true
        case .added:
            logger.warning("an upstream added a tool after its first listing; it is quarantined until approved", metadata: [
                "mcp.server": "\(server)", "tool": "\(tool)"])
            changes.withLockedValue { $0 }?.makeCounter(
                descriptor: .init(metricName: "triplegate_mcp_tool_definition_changes", unitName: "total", helpText: "Upstream tool definitions seen changed"),
                labels: [("server", server), ("tool", tool)]).increment()
            persist(key)
            return false
        case .changed:
            logger.warning("an upstream tool's definition changed", metadata: [
                "mcp.server": "\(server)", "tool": "\(tool)", "quarantined": "\(quarantine)"])
            changes.withLockedValue { $0 }?.makeCounter(
                descriptor: .init(metricName: "triplegate_mcp_tool_definition_changes", unitName: "total", helpText: "Upstream tool definitions seen changed"),
                labels: [("server", server), ("tool", tool)]).increment()
            persist(key)
            return !quarantine
        case .stillPending:
            return !quarantine
        }
    }

    /// Approves the pending definition of `tool`; false if there is none.
    package func approve(server: String, tool: String) async -> Bool {
        let key = server + "\u{0}" + tool
        let approved: Bool = pins.withLockedValue { all in
            guard var pin = all[key], let pending = pin.pending else { return false }
            pin.approved = pending
            pin.pending = nil
            all[key] = pin
            return true
        }
        if approved { await write(key) }
        return approved
    }

    private func persist(_ key: String) {
        guard db != nil else { return }
        writes.spawn { await self.write(key) }
    }

    private func write(_ key: String) async {
        guard let db, let pin = pins.withLockedValue({ $0[key] }) else { return }
        do {
            try await db.query("DELETE FROM mcp_tool_pins WHERE server = ? AND tool = ?", [.text(pin.server), .text(pin.tool)])
            try await db.query("INSERT INTO mcp_tool_pins (server, tool, approved, pending) VALUES (?, ?, ?, ?)",
                               [.text(pin.server), .text(pin.tool), .text(pin.approved), pin.pending.map(SQLValue.text) ?? .null])
        } catch {
            logger.error("a tool pin could not be stored", metadata: ["mcp.server": "\(pin.server)", "tool": "\(pin.tool)", "error": "\(error)"])
        }
    }

    /// SHA-256 (hex) of the definition's canonical JSON: object keys sorted, no spacing.
    static func hash(_ definition: ByteBuffer) -> String {
        let canonical: [UInt8]
        if let value = try? JSONParser.parse(definition.readableBytesView) {
            var out = ByteBufferAllocator().buffer(capacity: definition.readableBytes)
            sorted(value).write(to: &out)
            canonical = Array(out.readableBytesView)
        } else {
            canonical = Array(definition.readableBytesView)
        }
        return SHA256.hash(data: canonical).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    private static func sorted(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let fields): return .object(fields.map { ($0.0, sorted($0.1)) }.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) })
        case .array(let items): return .array(items.map(sorted))
        default: return v
        }
    }
}
