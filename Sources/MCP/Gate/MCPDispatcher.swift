import Foundation
import Crypto
import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Prometheus

/// Answers one agent message: the gate's own methods (`initialize`, `server/discover`, `ping`,
/// the merged lists) locally, the rest routed to the upstream that owns the tool, prompt or
/// resource. Deny by default: what the agent may not call is absent from its lists and refused
/// with the same error as a name that does not exist, so hidden tools cannot be probed.
final class MCPDispatcher: Sendable {
    let servers: [String: UpstreamServer]
    let ordered: [UpstreamServer]
    let catalog: Catalog
    let access: ToolAccess
    /// `rate_limit` policies counted per `tools/call` (their `by` names `tool`).
    let toolLimits: PolicyChain
    let sessions: SessionTable
    let audit: AuditLog
    let limitRefusal: MCPConfig.LimitRefusal
    let auditArguments: Bool
    let logger: Logger
    let metrics: ToolCallMetrics
    /// Messages for agents that stopped reading, past their budget (`AgentOutbound`).
    let slowAgentDrops: Counter
    static let pageSize = 500
    static let serverInfo = JSONValue.object([("name", .string("triplegate")), ("version", .string("0.1.0"))])

    init(servers: [UpstreamServer], catalog: Catalog, access: ToolAccess, toolLimits: PolicyChain, sessions: SessionTable, audit: AuditLog,
         config: MCPConfig, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.metrics = ToolCallMetrics(registry: registry)
        slowAgentDrops = AgentOutbound.makeCounter(registry)
        self.ordered = servers
        self.servers = Dictionary(uniqueKeysWithValues: servers.map { ($0.name, $0) })
        self.catalog = catalog
        self.access = access
        self.toolLimits = toolLimits
        self.sessions = sessions
        self.audit = audit
        self.limitRefusal = config.limitRefusal
        self.auditArguments = config.auditArguments
        self.logger = logger
    }

    func handle(_ call: MCPCall) async -> MCPAnswer {
        var answer = await answer(call)
        if call.modern, !answer.final, let body = answer.body, let method = call.message.method {
            answer.body = ModernEnvelope.completing(body, method: method)
        }
        return answer
    }

    private func answer(_ call: MCPCall) async -> MCPAnswer {
        let m = call.message
        switch m.kind {
        case .response:
            // An agent's answer to a server request (sampling, elicitation, roots) relayed to
            // it: back to the upstream that asked, under that upstream's id.
            if let id = m.id, let (server, upstreamID) = call.session?.answered(id) {
                try? await server.notify(RPCMessage.splice(m.bytes, m.idRange!, upstreamID), loop: call.loop)
            }
            return .accepted
        case .notification:
            if m.method == "notifications/cancelled" { await cancel(call) }
            return .accepted
        case .request:
            break
        }
        let id = m.id ?? "null"
        switch m.method ?? "" {
        case "initialize": return await initialize(call)
        case "server/discover": return await discover(call)
        case "ping": return MCPAnswer(body: RPC.result(id: id, .object([])))
        case "logging/setLevel": return setLevel(call)
        case "tools/list": return await list(.tools, call)
        case "prompts/list": return await list(.prompts, call)
        case "resources/list": return await list(.resources, call)
        case "resources/templates/list": return await list(.templates, call)
        case "tools/call": return await callTool(call)
        case "prompts/get": return await routed(.prompts, call, unknown: "Unknown prompt")
        case "resources/read", "resources/subscribe", "resources/unsubscribe": return await routedResource(call)
        case "completion/complete": return await complete(call)
        default:
            return .error(id, RPCErrorCode.methodNotFound, "Method not found: \(m.method ?? "")", status: call.modern ? .notFound : .ok)
        }
    }

    // MARK: handshake

    private func initialize(_ call: MCPCall) async -> MCPAnswer {
        let id = call.message.id ?? "null"
        let params = call.message.params
        let requested = params?["protocolVersion"]?.stringValue ?? ""
        if let legacy = call.session, legacy.push != nil {
            // The 2024-11-05 transport made its session when the stream opened.
            let version = (ProtocolVersions.handshake + [ProtocolVersions.legacy]).contains(requested) ? requested : ProtocolVersions.legacy
            return MCPAnswer(body: RPC.result(id: id, .object(await initializeResult(version: version, loop: call.loop))))
        }
        let version = ProtocolVersions.handshake.contains(requested) ? requested : ProtocolVersions.latestHandshake
        guard let session = sessions.open(principal: call.consumer?.name ?? "", protocolVersion: version,
                                          clientCapabilities: params?["capabilities"] ?? .object([]), path: call.path,
                                          now: Int64(NIODeadline.now().uptimeNanoseconds)) else {
            return .error(id, RPCErrorCode.internalError, "Too many open sessions; try again later", status: .serviceUnavailable)
        }
        var answer = MCPAnswer(body: RPC.result(id: id, .object(await initializeResult(version: version, loop: call.loop))))
        answer.openedSession = session
        return answer
    }

    private func initializeResult(version: String, loop: LoopContext) async -> [(String, JSONValue)] {
        var result: [(String, JSONValue)] = [
            ("protocolVersion", .string(version)),
            ("capabilities", await capabilities(loop: loop)),
            ("serverInfo", Self.serverInfo),
        ]
        if let instructions = await instructions(loop: loop) { result.append(("instructions", .string(instructions))) }
        return result
    }

    private func discover(_ call: MCPCall) async -> MCPAnswer {
        var result: [(String, JSONValue)] = [
            ("supportedVersions", .array(ProtocolVersions.all.map { .string($0) })),
            ("capabilities", await capabilities(loop: call.loop)),
        ]
        if let instructions = await instructions(loop: call.loop) { result.append(("instructions", .string(instructions))) }
        result.append(("resultType", .string("complete")))
        result.append(("_meta", .object([("io.modelcontextprotocol/serverInfo", Self.serverInfo)])))
        return MCPAnswer(body: RPC.result(id: call.message.id ?? "null", .object(result)))
    }

    /// The union of the upstreams' tools, prompts and resources capabilities (servers that
    /// cannot be reached now add nothing).
    private func capabilities(loop: LoopContext) async -> JSONValue {
        let handshakes = await readyServers(loop: loop)
        var fields: [(String, JSONValue)] = [("logging", .object([]))]
        for kind in ["tools", "prompts", "resources"] where handshakes.contains(where: { $0.capabilities[kind] != nil }) {
            var caps: [(String, JSONValue)] = [("listChanged", .bool(true))]
            if kind == "resources", handshakes.contains(where: { $0.capabilities["resources"]?["subscribe"]?.boolValue == true }) {
                caps.append(("subscribe", .bool(true)))
            }
            fields.append((kind, .object(caps)))
        }
        if handshakes.contains(where: { $0.capabilities["completions"] != nil }) { fields.append(("completions", .object([]))) }
        return .object(fields)
    }

    private func instructions(loop: LoopContext) async -> String? {
        let parts = await readyServers(loop: loop).compactMap(\.instructions)
        return parts.isEmpty ? nil : parts.joined(separator: "\n\n")
    }

    private func readyServers(loop: LoopContext) async -> [UpstreamServer.Handshake] {
        await withTaskGroup(of: UpstreamServer.Handshake?.self) { group in
            for s in ordered { group.addTask { try? await s.ready(loop: loop) } }
            var out: [UpstreamServer.Handshake] = []
            for await h in group { if let h { out.append(h) } }
            return out
        }
    }

    /// `logging/setLevel`: the level is kept on the agent's session and applied by the gate to
    /// what upstreams log while serving it (upstream sessions may be shared, so they are not
    /// told). A 2026-07-28 request has no session: its level rides in each request's `_meta`.
    private func setLevel(_ call: MCPCall) -> MCPAnswer {
        let id = call.message.id ?? "null"
        guard let name = call.message.params?["level"]?.stringValue, let level = LogLevel(name: name) else {
            return .error(id, RPCErrorCode.invalidParams, "Invalid params: level must be one of \(LogLevel.allCases.map(\.name).joined(separator: ", "))",
                          status: call.modern ? .badRequest : .ok)
        }
        call.session?.setLogLevel(level)
        return MCPAnswer(body: RPC.result(id: id, .object([])))
    }

    /// The log messages the agent of `request` takes (asked only when one arrives: it reads
    /// the request's `_meta` or the session).
    static func logFilter(_ request: RPCMessage, modern: Bool, session: AgentSession?) -> LogFilter {
        if modern {
            guard let text = request.text(at: ["params", "_meta", LogLevel.metaKey]), let name = (try? JSONParser.parse(text))?.stringValue,
                  let level = LogLevel(name: name) else { return .none }
            return .atLeast(level)
        }
        return session?.logFilter ?? .all
    }

    // MARK: lists

    private func list(_ kind: Catalog.Kind, _ call: MCPCall) async -> MCPAnswer {
        let id = call.message.id ?? "null"
        var offset = 0
        if let cursor = call.message.params?["cursor"]?.stringValue {
            guard let n = Self.offset(fromCursor: cursor) else { return .error(id, RPCErrorCode.invalidParams, "Invalid cursor", status: call.modern ? .badRequest : .ok) }
            offset = n
        }
        let listing = await catalog.listing(kind, loop: call.loop)
        let visible = listing.items.filter { call.view.admits($0.qualified) }
        let page = visible.dropFirst(offset).prefix(Self.pageSize)
        var body = ByteBufferAllocator().buffer(capacity: 64 + page.reduce(0) { $0 + $1.definition.readableBytes + 1 })
        body.writeStaticString("{\"")
        body.writeString(kind.rawValue)
        body.writeStaticString("\":[")
        for (i, item) in page.enumerated() {
            if i > 0 { body.writeStaticString(",") }
            var d = item.definition
            body.writeBuffer(&d)
        }
        body.writeStaticString("]")
        if offset + page.count < visible.count {
            body.writeStaticString(",\"nextCursor\":")
            JSONValue.writeQuoted(Self.cursor(offset: offset + page.count), to: &body)
        }
        body.writeStaticString("}")
        return MCPAnswer(body: RPC.result(id: id, raw: body))
    }

    /// Cursors are opaque to agents: base64 of `tg1:<offset>`.
    static func cursor(offset: Int) -> String {
        Array("tg1:\(offset)".utf8).base64
    }

    static func offset(fromCursor cursor: String) -> Int? {
        guard let bytes = [UInt8](base64: cursor), let text = String(validating: bytes, as: UTF8.self), text.hasPrefix("tg1:"),
              let n = Int(text.dropFirst(4)), n >= 0 else { return nil }
        return n
    }

    // MARK: calls

    /// The catalog item an agent named, if it exists and the agent may use it.
    private func resolve(_ kind: Catalog.Kind, _ name: String?, _ call: MCPCall) async -> Catalog.Item? {
        guard let name else { return nil }
        let listing = await catalog.listing(kind, loop: call.loop)
        guard let i = listing.index[name] else { return nil }
        let item = listing.items[i]
        return call.view.admits(item.qualified) ? item : nil
    }

    private func callTool(_ call: MCPCall) async -> MCPAnswer {
        let m = call.message, id = m.id ?? "null"
        let started = NIODeadline.now()
        guard let item = await resolve(.tools, m.target, call), let server = servers[item.server] else {
            // The audit tells a hidden tool from an unknown one; the agent cannot.
            if let name = m.target, let listing = catalog.cached(.tools), let i = listing.index[name] {
                var denied = auditRecord(call, item: listing.items[i])
                denied.outcome = "denied"
                finish(&denied, started)
            }
            return .error(id, RPCErrorCode.invalidParams, "Unknown tool: \(m.target ?? "")", status: call.modern ? .badRequest : .ok)
        }
        var record = auditRecord(call, item: item)
        if !toolLimits.isEmpty, var context = call.policyContext {
            context.resource = item.qualified
            let verdict: PolicyVerdict
            switch toolLimits.run(context, on: call.loop.eventLoop) {
            case .done(let v, _): verdict = v
            case .pending(let future): verdict = (try? await future.get().0) ?? .proceed
            }
            if case .reject(let problem) = verdict {
                record.outcome = "limited"
                finish(&record, started)
                return limited(problem, id: id, tool: item.exposed)
            }
        }
        let answer = await forward(call, to: server, target: item.original, record: &record)
        finish(&record, started)
        return answer
    }

    private func limited(_ problem: ProblemDetails, id: String, tool: String) -> MCPAnswer {
        switch limitRefusal {
        case .http:
            var answer = MCPAnswer.error(id, RPCErrorCode.internalError, "Rate limit exceeded for \(tool)", status: .tooManyRequests)
            answer.headers = problem.headers
            return answer
        case .toolError:
            let result = JSONValue.object([
                ("content", .array([.object([("type", .string("text")), ("text", .string("Rate limit exceeded for \(tool); try again later."))])])),
                ("isError", .bool(true)),
            ])
            return MCPAnswer(body: RPC.result(id: id, result))
        }
    }

    private func auditRecord(_ call: MCPCall, item: Catalog.Item) -> AuditRecord {
        let args = call.message.range(of: ["params", "arguments"]).map { r in
            call.message.bytes.getSlice(at: call.message.bytes.readerIndex + r.lowerBound, length: r.count)!
        }
        let digest = SHA256.hash(data: args.map { Array($0.readableBytesView) } ?? [])
        return AuditRecord(timeMillis: Self.wallMillis(), requestID: call.requestID,
                           consumer: call.consumer?.name, team: call.consumer?.team, session: call.session?.id, upstream: item.server,
                           tool: item.original, argumentsSHA256: Self.hex(digest),
                           arguments: auditArguments ? args.map { String(buffer: $0) } : nil, outcome: "ok", latencyMillis: 0)
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func wallMillis() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000)
    }

    /// Counts the call in `triplegate_mcp_tool_calls_total{server,tool,outcome}` and its
    /// duration, and hands the record to the audit.
    private func finish(_ record: inout AuditRecord, _ started: NIODeadline) {
        let nanos = (NIODeadline.now() - started).nanoseconds
        record.latencyMillis = nanos / 1_000_000
        metrics.calls(server: record.upstream, tool: record.tool, outcome: record.outcome).increment()
        metrics.duration(server: record.upstream).recordNanoseconds(nanos)
        audit.record(record)
    }

    private func routed(_ kind: Catalog.Kind, _ call: MCPCall, unknown: String) async -> MCPAnswer {
        let m = call.message, id = m.id ?? "null"
        guard let item = await resolve(kind, m.target, call), let server = servers[item.server] else {
            return .error(id, RPCErrorCode.invalidParams, "\(unknown): \(m.target ?? "")", status: call.modern ? .badRequest : .ok)
        }
        var ignored: AuditRecord?
        return await forward(call, to: server, target: item.original, record: &ignored)
    }

    /// `resources/read` (and subscribe): the server that listed the URI, or whose template's
    /// fixed prefix it starts with.
    private func routedResource(_ call: MCPCall) async -> MCPAnswer {
        let m = call.message, id = m.id ?? "null"
        let notFound = MCPAnswer.error(id, RPCErrorCode.resourceNotFound, "Resource not found: \(m.target ?? "")", status: call.modern ? .notFound : .ok)
        guard let uri = m.target else { return notFound }
        var item = await resolve(.resources, uri, call)
        if item == nil {
            let templates = await catalog.listing(.templates, loop: call.loop)
            item = templates.items
                .filter { t in t.original.split(separator: "{", maxSplits: 1).first.map { uri.hasPrefix($0) && !$0.isEmpty } ?? false }
                .max { $0.original.count < $1.original.count }
            if let t = item, !call.view.admits(t.qualified) { item = nil }
        }
        guard let item, let server = servers[item.server] else { return notFound }
        var ignored: AuditRecord?
        let answer = await forward(call, to: server, target: nil, record: &ignored)
        // Updates for a subscribed URI come outside any request: the session remembers it.
        let method = call.message.method
        if method == "resources/subscribe" || method == "resources/unsubscribe", let session = call.session,
           let body = answer.body, let reply = try? RPCMessage.parse(body), !reply.isError {
            session.subscribe(uri, method == "resources/subscribe")
        }
        return answer
    }

    /// `completion/complete`: to the server that owns the prompt or resource template in
    /// `params.ref`, the prompt's name given back as the server knows it. A ref the agent may
    /// not see is refused as an unknown one.
    private func complete(_ call: MCPCall) async -> MCPAnswer {
        var m = call.message
        let id = m.id ?? "null", ref = m.params?["ref"]
        let status: HTTPResponseStatus = call.modern ? .badRequest : .ok
        var routed = call
        switch ref?["type"]?.stringValue {
        case "ref/prompt":
            let name = ref?["name"]?.stringValue
            guard let item = await resolve(.prompts, name, call), let server = servers[item.server] else {
                return .error(id, RPCErrorCode.invalidParams, "Unknown prompt: \(name ?? "")", status: status)
            }
            m.target = name
            m.targetRange = m.range(of: ["params", "ref", "name"])
            routed.message = m
            var ignored: AuditRecord?
            return await forward(routed, to: server, target: item.original, record: &ignored)
        case "ref/resource":
            let uri = ref?["uri"]?.stringValue ?? ""
            let templates = await catalog.listing(.templates, loop: call.loop)
            var item = templates.items.first { $0.original == uri }
            if item == nil { item = await resolve(.resources, uri, call) }
            guard let item, call.view.admits(item.qualified), let server = servers[item.server] else {
                return .error(id, RPCErrorCode.resourceNotFound, "Resource not found: \(uri)", status: call.modern ? .notFound : .ok)
            }
            var ignored: AuditRecord?
            return await forward(call, to: server, target: nil, record: &ignored)
        default:
            return .error(id, RPCErrorCode.invalidParams, "Invalid params: ref must be a ref/prompt or a ref/resource", status: status)
        }
    }

    private func forward(_ call: MCPCall, to server: UpstreamServer, target: String?, record: inout AuditRecord?) async -> MCPAnswer {
        var r = record ?? AuditRecord(timeMillis: 0, requestID: "", upstream: "", tool: "", argumentsSHA256: "", outcome: "ok", latencyMillis: 0)
        let answer = await forward(call, to: server, target: target, record: &r)
        if record != nil { record = r }
        return answer
    }

    private func forward(_ call: MCPCall, to shared: UpstreamServer, target: String?, record: inout AuditRecord) async -> MCPAnswer {
        let server = call.session?.upstream(for: shared) ?? shared
        let m = call.message, id = m.id ?? "null"
        let agentToken = m.progressToken
        let emit = call.emit
        let modern = call.modern
        let revision = modern ? ProtocolVersions.modern[0] : call.session?.protocolVersion ?? ProtocolVersions.assumedWithoutHeader
        do {
            let session = call.session
            defer { if let session, let agentID = m.id { session.ended(agentID) } }
            let reply = try await server.forward(m, target: target, loop: call.loop, stripEnvelope: call.modern, pace: call.pace, sent: { upstreamID in
                if let session, let agentID = m.id { session.started(agentID, server: server, upstreamID: upstreamID) }
            }, onMessage: { upstream in
                Self.relay(upstream, agentToken: agentToken, logs: { Self.logFilter(m, modern: modern, session: session) }, emit: emit, session: session,
                           server: server, loop: call.loop, revision: revision)
            })
            if reply.isError {
                record.outcome = "error"
            } else if let r = reply.range(of: ["result", "isError"]), r.count == 4 {
                record.outcome = "tool_error"
            }
            // The agent's id back, and the 2026-07-28 completion, in one copy.
            var edits: [(Range<Int>, String)] = []
            if let r = reply.idRange { edits.append((r, id)) }
            if call.modern, let method = m.method, let completion = ModernEnvelope.completion(of: reply, method: method) { edits.append(completion) }
            var answer = MCPAnswer(body: reply.replacing(edits))
            answer.final = true
            return answer
        } catch let failure as UpstreamFailure where failure.isTimeout {
            record.outcome = "timeout"
            let why = if case .stalled = failure { "stopped sending before its answer" } else { "did not answer in time" }
            return .error(id, RPCErrorCode.requestTimeout, "The \(server.name) server \(why)", status: call.modern ? .gatewayTimeout : .ok)
        } catch is CancellationError {
            // The agent left (2026-07-28 closed its stream, or cancelled): the upstream call was
            // ended and told; nobody waits for this answer.
            record.outcome = "cancelled"
            return .error(id, RPCErrorCode.requestTimeout, "Cancelled", status: call.modern ? .badRequest : .ok)
        } catch {
            record.outcome = "unreachable"
            logger.warning("an upstream call failed", metadata: ["mcp.server": "\(server.name)", "method": "\(m.method ?? "")", "error": "\(error)"])
            return .error(id, RPCErrorCode.internalError, "The \(server.name) server could not be reached", status: call.modern ? .badGateway : .ok)
        }
    }

    /// A message an upstream sent while serving an agent's request: progress goes back with the
    /// agent's own token; server requests (sampling, elicitation, roots) go to the agent under
    /// an id of ours, on the stream of the request that caused them. When the agent has no way
    /// to take one (no session, no stream), the upstream is refused at once rather than left
    /// waiting.
    private static func relay(_ m: RPCMessage, agentToken: String?, logs: () -> LogFilter, emit: @Sendable (ByteBuffer) -> Bool, session: AgentSession?,
                              server: UpstreamServer, loop: LoopContext, revision: String) {
        switch m.kind {
        case .notification:
            if m.method == "notifications/progress" {
                guard let agentToken, let r = m.range(of: ["params", "progressToken"]) else { return }
                _ = emit(m.replacing([(r, agentToken)]))
            } else if m.method == "notifications/message" {
                // A level the agent did not ask for (or not a level at all) is dropped.
                guard let name = m.params?["level"]?.stringValue, let level = LogLevel(name: name), logs().admits(level) else { return }
                _ = emit(m.bytes)
            } else if let method = m.method, ProtocolVersions.serverNotifications(revision).contains(method) {
                _ = emit(m.bytes)
            } else {
                // Not a notification the agent's revision defines: its client may choke on it.
                server.drops.count(server: server.name, reason: .undefinedNotification)
            }
        case .request:
            if let session, let upstreamID = m.id, let r = m.idRange, let id = session.relay(from: server, upstreamID: upstreamID) {
                if emit(m.replacing([(r, id)])) { return }
                _ = session.answered(id)
            }
            let refusal = RPC.error(id: m.id, code: RPCErrorCode.methodNotFound, message: "\(m.method ?? "") cannot reach the client of this request")
            server.background.spawn { try? await server.notify(refusal, loop: loop) }
        case .response:
            break
        }
    }

    /// `notifications/cancelled` from an agent: passed to the upstream with our request id.
    private func cancel(_ call: MCPCall) async {
        guard let session = call.session, let requestID = call.message.text(at: ["params", "requestId"]),
              let (server, upstreamID) = session.inFlight(requestID) else { return }
        let params = JSONValue.object([("requestId", .int(Int(upstreamID) ?? 0)), ("reason", .string("cancelled by the client"))])
        try? await server.notify(RPC.notification(method: "notifications/cancelled", params: params), loop: call.loop)
    }
}
