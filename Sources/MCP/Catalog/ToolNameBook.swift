import GatewayCore
import Logging
import NIOConcurrencyHelpers

/// Which tool or prompt each exposed name belongs to, once given: a name stays with its
/// (server, name) across list changes, restarts and reloads, and is never handed to another
/// server's tool, even while its own tool is absent from a listing. Without it, a server listed
/// earlier could add a tool whose name collides with a trusted one, and after the next listing
/// an agent's call to the trusted name (arguments and secrets included) would reach it. A
/// newcomer that collides gets the hash suffix, never the holder.
///
/// Kept in the MCP store (`mcp_exposed_names`) when there is one, beside the tool pins.
package final class ToolNameBook: Sendable {
    struct Owner: Hashable, Sendable {
        var kind: String
        var server: String
        var original: String
    }

    fileprivate struct State {
        var byOwner: [Owner: String] = [:]
        /// Kind → every name given for it.
        var taken: [String: Set<String>] = [:]
        /// (kind, server) → how many names it holds.
        var counts: [String: Int] = [:]
    }

    /// Names one server may hold per kind: past it, its further tools are left out (a server
    /// listing a million tools must not grow the book, or the store, without end).
    package static let maxNamesPerServer = 10_000

    private let state = NIOLockedValueBox(State())
    private let db: (any SQLDatabase)?
    private let logger: Logger

    /// Names being written to the store; the gate waits for them when it stops.
    package let writes = BackgroundTasks()

    private init(db: (any SQLDatabase)?) {
        self.db = db
        logger = Logger(label: "triplegate.mcp")
    }

    /// A book kept in memory only (no store): names hold for the process's life.
    package static func inMemory() -> ToolNameBook { ToolNameBook(db: nil) }

    /// A book kept in `db`, loaded now.
    package static func open(_ db: any SQLDatabase) async throws -> ToolNameBook {
        try await db.query("""
            CREATE TABLE IF NOT EXISTS mcp_exposed_names (
              kind TEXT NOT NULL, exposed TEXT NOT NULL, server TEXT NOT NULL, original TEXT NOT NULL,
              PRIMARY KEY (kind, exposed)
            )
            """)
        let book = ToolNameBook(db: db)
        let rows = try await db.query("SELECT kind, exposed, server, original FROM mcp_exposed_names")
        book.state.withLockedValue { s in
            for r in rows {
                guard let kind = r["kind"].text, let exposed = r["exposed"].text, let server = r["server"].text,
                      let original = r["original"].text else { continue }
                s.record(Owner(kind: kind, server: server, original: original), exposed)
            }
        }
        return book
    }

    /// The exposed names of one listing's items, in order: each holder keeps its name, each
    /// newcomer gets a fresh one that no name ever given (for this kind) equals. Nil for an item
    /// left out (its server holds `maxNamesPerServer` names already).
    func names(kind: String, for items: [(server: String, original: String)], naming: ToolNaming) -> [String?] {
        var given: [(Owner, String)] = []
        var full: Set<String> = []
        let out: [String?] = state.withLockedValue { s in
            items.map { item in
                let owner = Owner(kind: kind, server: item.server, original: item.original)
                if let held = s.byOwner[owner] { return held }
                guard s.counts[kind + "\u{0}" + item.server, default: 0] < Self.maxNamesPerServer else {
                    full.insert(item.server)
                    return nil
                }
                let name = naming.exposedName(server: item.server, name: item.original, taken: &s.taken[kind, default: []])
                s.record(owner, name)
                given.append((owner, name))
                return name
            }
        }
        for server in full.sorted() {
            logger.warning("an upstream lists more tools than the gateway names; the rest are left out",
                           metadata: ["mcp.server": "\(server)", "kind": "\(kind)", "limit": "\(Self.maxNamesPerServer)"])
        }
        if let db, !given.isEmpty {
            let logger = self.logger
            let given = given
            writes.spawn {
                do {
                    try await db.insert(into: "mcp_exposed_names", columns: ["kind", "exposed", "server", "original"],
                                        values: given.flatMap { [.text($0.0.kind), .text($0.1), .text($0.0.server), .text($0.0.original)] },
                                        onConflict: "ON CONFLICT (kind, exposed) DO NOTHING")
                } catch {
                    logger.error("exposed tool names could not be stored", metadata: ["error": "\(error)"])
                }
            }
        }
        return out
    }
}

extension ToolNameBook.State {
    fileprivate mutating func record(_ owner: ToolNameBook.Owner, _ name: String) {
        byOwner[owner] = name
        taken[owner.kind, default: []].insert(name)
        counts[owner.kind + "\u{0}" + owner.server, default: 0] += 1
    }
}
