import GatewayCore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// One `tools/call`, as the audit keeps it. Arguments are kept as a SHA-256 hash unless
/// `mcp.audit_arguments` asks for the values.
package struct AuditRecord: Sendable {
    package var timeMillis: Int64
    package var requestID: String
    package var consumer: String?
    package var team: String?
    package var session: String?
    package var upstream: String
    package var tool: String
    package var argumentsSHA256: String
    package var arguments: String?
    /// `ok`, `tool_error` (the tool answered `isError: true`), `error` (a JSON-RPC error),
    /// `denied`, `limited`, `timeout`, `cancelled` (the agent left) or `unreachable`.
    package var outcome: String
    package var latencyMillis: Int64
}

/// Takes audit records from requests (a lock and an append) and writes them to the store's
/// `mcp_audit` table in batches, as the ledger does. The queue is bounded; what is left is
/// written on graceful shutdown.
package final class AuditLog: Service, Sendable {
    static let capacity = 100_000
    static let columns = ["time_ms", "request_id", "consumer", "team", "session", "upstream", "tool", "arguments_sha256", "arguments", "outcome", "latency_ms"]
    private let pending = BatchQueue<AuditRecord>(capacity: AuditLog.capacity)
    private let db: (any SQLDatabase)?
    private let logger: Logger

    /// `db` nil keeps nothing (`mcp.audit: false`, or in-process tests); metrics still count.
    package init(db: (any SQLDatabase)?, logger: Logger = Logger(label: "triplegate.mcp")) {
        self.db = db
        self.logger = logger
    }

    /// Opens the store and creates the table if new.
    package static func open(_ location: StoreLocation) async throws -> AuditLog {
        let logger = Logger(label: "triplegate.mcp")
        let db = try await openDatabase(location, logger: logger)
        let int = db.dialect.bigint
        try await db.query("""
            CREATE TABLE IF NOT EXISTS mcp_audit (
              id \(db.dialect.serialKey),
              time_ms \(int) NOT NULL, request_id TEXT NOT NULL, consumer TEXT, team TEXT, session TEXT,
              upstream TEXT NOT NULL, tool TEXT NOT NULL, arguments_sha256 TEXT NOT NULL, arguments TEXT,
              outcome TEXT NOT NULL, latency_ms \(int) NOT NULL
            )
            """)
        try await db.query("CREATE INDEX IF NOT EXISTS mcp_audit_time ON mcp_audit (time_ms)")
        return AuditLog(db: db, logger: logger)
    }

    func record(_ r: AuditRecord) {
        guard db != nil else { return }
        pending.append(r)
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // Small batches often: a batch is written on the same cores as the data plane,
            // and at 200 ms one batch held a core long enough to show in the p99 of calls.
            try? await Task.sleep(for: .milliseconds(50))
            await flush()
        }
        await flush()
        try? await db?.close()
    }

    /// Writes what is queued (kept for the next round when the store fails).
    package func flush() async {
        guard let db else { return }
        let (records, dropped) = pending.take()
        if dropped > 0 { logger.error("audit queue full: records dropped", metadata: ["dropped": "\(dropped)"]) }
        guard !records.isEmpty else { return }
        do {
            var values: [SQLValue] = []
            values.reserveCapacity(records.count * Self.columns.count)
            for r in records {
                values += [.int(r.timeMillis), .text(r.requestID), r.consumer.map(SQLValue.text) ?? .null, r.team.map(SQLValue.text) ?? .null,
                           r.session.map(SQLValue.text) ?? .null, .text(r.upstream), .text(r.tool), .text(r.argumentsSHA256),
                           r.arguments.map(SQLValue.text) ?? .null, .text(r.outcome), .int(r.latencyMillis)]
            }
            try await db.transaction { [values] tx in
                try await tx.insert(into: "mcp_audit", columns: Self.columns, values: values, onConflict: nil)
            }
        } catch {
            logger.error("audit write failed; will retry", metadata: ["records": "\(records.count)", "error": "\(error)"])
            pending.giveBack(records)
        }
    }
}
