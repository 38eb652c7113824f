import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// What agents may list and call: every upstream's tools, prompts, resources and resource
/// templates, under the names agents see. Built from the upstreams' own listings (all pages),
/// kept until a server says its list changed (`notifications/*/list_changed`) or `ttl` passes,
/// and shared by every agent: each agent's view is this catalog filtered by its access.
final class Catalog: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case tools, prompts, resources
        case templates = "resourceTemplates"

        var method: String {
            switch self {
            case .tools: return "tools/list"
            case .prompts: return "prompts/list"
            case .resources: return "resources/list"
            case .templates: return "resources/templates/list"
            }
        }

        /// The server capability that says the server has this kind.
        var capability: String { self == .templates ? "resources" : rawValue }
    }

    /// One tool, prompt, resource or template.
    struct Item: Sendable {
        /// The name agents see (tools, prompts) or the URI (resources) / URI template.
        var exposed: String
        /// The server's own name or URI.
        var original: String
        var server: String
        /// The definition as the server wrote it, with the name rewritten.
        var definition: ByteBuffer
        /// `server.original`: what access rules and virtual servers match.
        var qualified: String { server + "." + original }
    }

    struct Listing: Sendable {
        var items: [Item]
        /// Exposed name (or URI) → index in `items`.
        var index: [String: Int]
        var builtAt: NIODeadline
    }

    private struct State {
        var listings: [Kind: Listing] = [:]
        var refreshing: [Kind: Task<Listing, Never>] = [:]
        /// Bumped by list_changed; a listing built before the bump is stale.
        var generation: [Kind: Int] = [:]
    }

    private let servers: [UpstreamServer]
    private let naming: ToolNaming
    private let names: ToolNameBook
    private let pins: ToolPins
    private let pinning: MCPConfig.Pinning
    private let ttl: TimeAmount
    private let logger: Logger
    private let listFailures: PrometheusCollectorRegistry?
    private let state = NIOLockedValueBox(State())

    init(servers: [UpstreamServer], naming: ToolNaming, names: ToolNameBook = .inMemory(), ttl: TimeAmount, pins: ToolPins,
         pinning: MCPConfig.Pinning, logger: Logger, registry: PrometheusCollectorRegistry? = nil) {
        self.listFailures = registry
        self.names = names
        self.pins = pins
        self.pinning = pinning
        self.servers = servers
        self.naming = naming
        self.ttl = ttl
        self.logger = logger
    }

    /// A server said its `kind` list changed.
    func invalidate(_ kind: Kind) {
        state.withLockedValue { s in
            s.listings[kind] = nil
            s.generation[kind, default: 0] += 1
            if kind == .resources { s.listings[.templates] = nil }
        }
    }

    /// The current listing of `kind`, fetched if missing or older than the ttl.
    func listing(_ kind: Kind, loop: LoopContext) async -> Listing {
        if let l = cached(kind) { return l }
        let task: Task<Listing, Never> = state.withLockedValue { s in
            if let t = s.refreshing[kind] { return t }
            let generation = s.generation[kind, default: 0]
            let t = Task { await self.fetch(kind, loop: loop, generation: generation) }
            s.refreshing[kind] = t
            return t
        }
        return await task.value
    }

    /// The cached listing only (no fetch): the fast path of `tools/call`.
    func cached(_ kind: Kind) -> Listing? {
        state.withLockedValue { s in
            guard let l = s.listings[kind], NIODeadline.now() - l.builtAt < ttl else { return nil }
            return l
        }
    }

    private func fetch(_ kind: Kind, loop: LoopContext, generation: Int) async -> Listing {
        // Servers are asked concurrently; their items are merged in config order.
        let perServer: [(Int, [ByteBuffer], Bool)] = await withTaskGroup(of: (Int, [ByteBuffer], Bool).self) { group in
            for (i, server) in servers.enumerated() {
                group.addTask { await self.fetch(kind, from: server, loop: loop).map { (i, $0, true) } ?? (i, [], false) }
            }
            var out: [(Int, [ByteBuffer], Bool)] = []
            for await r in group { out.append(r) }
            return out.sorted { $0.0 < $1.0 }
        }
        var taken = Set<String>()
        var items: [Item] = []
        var index: [String: Int] = [:]
        let nameKey = kind == .resources ? "uri" : kind == .templates ? "uriTemplate" : "name"
        // What may be listed, in config order: pinned tools only, one item per (server, name).
        var listed: [(server: String, original: String, definition: ByteBuffer)] = []
        for (i, definitions, ok) in perServer {
            let server = servers[i].name
            let firstListing = kind == .tools && pinning != .off && !pins.hasListed(server)
            var seen = Set<String>()
            for d in definitions {
                guard let original = JSONScanner.values([nameKey], in: d)?[nameKey]?.stringValue, seen.insert(original).inserted else { continue }
                if kind == .tools, pinning != .off,
                   !pins.check(server: server, tool: original, definition: d, quarantine: pinning == .quarantine, firstListing: firstListing) { continue }
                listed.append((server, original, d))
            }
            if kind == .tools, pinning != .off, ok { pins.markListed(server) }
        }
        switch kind {
        case .tools, .prompts:
            // A name once given stays with its tool (`ToolNameBook`): a newcomer never takes it.
            let exposedNames = names.names(kind: kind.rawValue, for: listed.map { ($0.server, $0.original) }, naming: naming)
            for (entry, exposed) in zip(listed, exposedNames) {
                guard let exposed, index[exposed] == nil else { continue }
                var definition = entry.definition
                if let m = try? RPCMessage.locate(nameKey, in: definition) { definition = RPCMessage.splice(definition, m, JSONValue.string(exposed).text) }
                index[exposed] = items.count
                items.append(Item(exposed: exposed, original: entry.original, server: entry.server, definition: definition))
            }
        case .resources, .templates:
            // URIs are the servers' own; the first server listing a URI owns it.
            for entry in listed where taken.insert(entry.original).inserted {
                index[entry.original] = items.count
                items.append(Item(exposed: entry.original, original: entry.original, server: entry.server, definition: entry.definition))
            }
        }
        let listing = Listing(items: items, index: index, builtAt: .now())
        let complete = perServer.allSatisfy { $0.2 }
        state.withLockedValue { s in
            s.refreshing[kind] = nil
            // A listing missing a server that failed is served but not kept, so the next
            // listing asks that server again.
            if complete, s.generation[kind, default: 0] == generation { s.listings[kind] = listing }
        }
        return listing
    }

    /// What one server's list may hold, all pages together: past any bound the server is left
    /// out of the merged list (logged, counted) rather than let one server hold the gate's
    /// memory and every agent's first listing (100 pages of 20 MiB once took 4.46 GB and 48 s).
    static let maxPages = 100
    static let maxListBytes = 16 << 20
    static let maxItems = ToolNameBook.maxNamesPerServer

    /// Every page of one server's list, each item's raw JSON; nil when the server failed.
    private func fetch(_ kind: Kind, from server: UpstreamServer, loop: LoopContext) async -> [ByteBuffer]? {
        do {
            let handshake = try await server.ready(loop: loop)
            guard handshake.capabilities[kind.capability] != nil else { return [] }
            var out: [ByteBuffer] = []
            var cursor: String?
            var bytes = 0
            for _ in 0..<Self.maxPages {
                let reply = try await server.call(kind.method, params: cursor.map { .object([("cursor", .string($0))]) }, loop: loop)
                guard let result = reply.rawMember("result") else {
                    throw UpstreamFailure.protocolError("\(kind.method) answered without \(kind.rawValue)")
                }
                // Each server's page is checked on its own: one that is not strict JSON (bytes
                // that are not UTF-8, say) leaves that server out, not the merged list broken
                // for every agent.
                bytes += result.readableBytes
                if bytes > Self.maxListBytes {
                    throw UpstreamFailure.protocolError("\(kind.method) answered more than \(Self.maxListBytes) bytes in all")
                }
                do {
                    try JSONValidator.validate(result)
                } catch {
                    throw UpstreamFailure.protocolError("\(kind.method) answered what is not valid JSON: \(error)")
                }
                guard let members = result.withUnsafeReadableBytes({ JSONScanner.members([kind.rawValue, "nextCursor"], in: $0) }),
                      let list = members[kind.rawValue] else {
                    throw UpstreamFailure.protocolError("\(kind.method) answered without \(kind.rawValue)")
                }
                let elements = result.withUnsafeReadableBytes { raw in JSONScanner.elements(in: UnsafeRawBufferPointer(rebasing: raw[list])) } ?? []
                for e in elements {
                    out.append(result.getSlice(at: result.readerIndex + list.lowerBound + e.lowerBound, length: e.count)!)
                }
                if out.count > Self.maxItems {
                    throw UpstreamFailure.protocolError("\(kind.method) listed more than \(Self.maxItems) items")
                }
                cursor = members["nextCursor"].flatMap { r in
                    result.withUnsafeReadableBytes { raw in (try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[r])))?.stringValue }
                }
                if cursor == nil { break }
            }
            return out
        } catch {
            logger.warning("an upstream could not be listed", metadata: ["mcp.server": "\(server.name)", "method": "\(kind.method)", "error": "\(error)"])
            listFailures?.makeCounter(
                descriptor: .init(metricName: "triplegate_mcp_list_failures", unitName: "total",
                                  helpText: "Upstream lists that failed or were refused (not valid JSON); the server was left out of the merged list"),
                labels: [("server", server.name), ("method", kind.method)]).increment()
            return nil
        }
    }
}

extension RPCMessage {
    /// The raw bytes of a top-level member (`result`, `error`).
    func rawMember(_ name: String) -> ByteBuffer? {
        guard let r = bytes.withUnsafeReadableBytes({ JSONScanner.members([name], in: $0)?[name] }) else { return nil }
        return bytes.getSlice(at: bytes.readerIndex + r.lowerBound, length: r.count)
    }

    /// Where `name`'s value sits in the object `buffer`.
    static func locate(_ name: String, in buffer: ByteBuffer) throws -> Range<Int> {
        guard let r = buffer.withUnsafeReadableBytes({ JSONScanner.members([name], in: $0)?[name] }) else { throw Malformed(reason: "no \(name)") }
        return r
    }

    /// `buffer` with the bytes in `range` replaced by `text`.
    static func splice(_ buffer: ByteBuffer, _ range: Range<Int>, _ text: String) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: buffer.readableBytes + text.utf8.count)
        buffer.withUnsafeReadableBytes { raw in
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[..<range.lowerBound]))
            out.writeString(text)
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[range.upperBound...]))
        }
        return out
    }
}
