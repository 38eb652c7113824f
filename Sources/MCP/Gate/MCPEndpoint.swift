import GatewayCore
import NIOCore
import NIOHTTP1

/// One HTTP request to the MCP endpoint (Streamable HTTP). The transport rules are checked
/// here, on the connection's event loop: the method (405 with `Allow`), `Origin` (403),
/// `Accept` (406), `Content-Type` (415), the session (400 without, 404 unknown) and the
/// protocol version (400). The body's messages then go to the dispatcher, off the loop; the
/// answer comes back as JSON, or as an SSE stream when the upstream sends progress first.
final class MCPEndpoint: RequestExchange {
    unowned let client: ClientResponder
    let request: MountedRequest
    let snapshot: MCPSnapshot
    private var body: ByteBuffer?
    private var closed = false
    private var streaming = false
    private let acceptsSSE: Bool
    /// `<path>/messages` of the 2024-11-05 transport: answers go down the session's stream.
    private let legacy: Bool

    init(client: ClientResponder, request: MountedRequest, snapshot: MCPSnapshot, legacy: Bool = false) {
        self.client = client
        self.request = request
        self.snapshot = snapshot
        self.legacy = legacy
        acceptsSSE = Self.accepts(request.head.headers, "text/event-stream")
    }

    /// Whether an `Accept` line names `lowerType` (in any of its members: a media type holds no
    /// comma, so a match never spans two). Read in place: splitting the lines into members
    /// allocated an array and a string per member on every call.
    static func accepts(_ headers: HTTPHeaders, _ lowerType: StaticString) -> Bool {
        for (name, value) in headers where ASCII.equalsIgnoringCase(name, "accept") {
            if ASCII.containsIgnoringCase(value, lowerType) { return true }
        }
        return false
    }

    /// Whether the request has an `Accept` line with a member in it (an empty one says nothing).
    static func hasAccept(_ headers: HTTPHeaders) -> Bool {
        for (name, value) in headers where ASCII.equalsIgnoringCase(name, "accept") {
            if value.utf8.contains(where: { $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) { return true }
        }
        return false
    }

    private var principal: String { request.consumer?.name ?? "" }
    private var headers: HTTPHeaders { request.head.headers }

    func requestBody(_ chunk: ByteBuffer) {
        var chunk = chunk
        if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
    }

    func requestEnd(_ trailers: HTTPHeaders?) {
        if let origin = headers.first(name: "origin"), !snapshot.allowedOrigins.contains(origin) {
            return refuse(.forbidden, RPCErrorCode.invalidRequest, "Origin \(origin) is not allowed")
        }
        switch request.head.method {
        case .POST where legacy: legacyPost()
        case .POST: post()
        case .DELETE: delete()
        case .GET:
            getStream()
        default:
            refuse(.methodNotAllowed, RPCErrorCode.invalidRequest, "Method not allowed", headers: [("allow", "GET, POST, DELETE")])
        }
    }

    /// `GET` with a session: the stream for messages outside requests (list changes, server
    /// requests not tied to one). Without a session (2026-07-28 agents) there is none: 405.
    private func getStream() {
        guard let id = headers.first(name: "mcp-session-id") else {
            return refuse(.methodNotAllowed, RPCErrorCode.invalidRequest, "This endpoint offers a GET stream only within a session", headers: [("allow", "POST, DELETE")])
        }
        guard acceptsSSE else { return refuse(.notAcceptable, RPCErrorCode.invalidRequest, "Not Acceptable: Client must accept text/event-stream") }
        guard let session = snapshot.dispatcher.sessions.find(id, principal: principal, now: Int64(NIODeadline.now().uptimeNanoseconds)) else {
            return refuse(.notFound, RPCErrorCode.invalidRequest, "Session not found")
        }
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        self.session = session
        if let last = headers.first(name: "last-event-id") {
            // Resumption: what the broken stream missed, then the rest of it as it comes.
            guard let (streamID, seq) = ReplayBuffer.parse(last),
                  let missed = session.resume(stream: streamID, after: seq, send: { e in bound.eventLoop.executeSoon { bound.value.replayed(e) } }) else {
                return refuse(.notFound, RPCErrorCode.invalidRequest, "Last-Event-ID \(last) can no longer be resumed")
            }
            openResponseStream()
            for e in missed.events { replayed(e) }  // the final one, if there, ends the response
            if missed.ended, missed.events.last?.final != true { client.writeResponseEnd(nil) }
            return
        }
        standaloneOf = session
        let outbound = self.outbound
        session.setStandalone { message in
            guard outbound.admit(message.readableBytes) else { return }
            bound.eventLoop.executeSoon { bound.value.stream(message) }
        }
        stream(nil)
    }

    /// An event of a resumed stream, written with its original id; the stream ends after its
    /// final event.
    private func replayed(_ e: ReplayBuffer.Event) {
        guard !closed else { return }
        writeEvent(e.message, id: e.id)
        if e.final { client.writeResponseEnd(nil) }
    }

    /// The session whose GET stream this is.
    private var standaloneOf: AgentSession?
    /// Bounds what is queued for this response's agent while it does not read.
    private lazy var outbound = AgentOutbound(dropped: snapshot.dispatcher.slowAgentDrops)
    /// The session of this request (handshake-era revisions), whose replay buffer keeps the
    /// events this response streams.
    private var session: AgentSession?
    private var streamID: Int?
    private var seq = 0
    /// The dispatch under way: cancelled when the client goes away (2026-07-28 cancels a
    /// request by closing its stream), which cancels the upstream call.
    private var work: Task<Void, Never>?

    /// A message for a 2024-11-05 session: accepted here (202), answered on its stream.
    private func legacyPost() {
        let id = request.query?.split(separator: "&").first { $0.hasPrefix("session_id=") }.map { String($0.dropFirst("session_id=".count)) }
        guard let id else { return refuse(.badRequest, RPCErrorCode.invalidRequest, "Bad Request: session_id is required") }
        guard let session = snapshot.dispatcher.sessions.find(id, principal: principal, now: Int64(NIODeadline.now().uptimeNanoseconds)),
              session.push != nil else {
            return refuse(.notFound, RPCErrorCode.invalidRequest, "Session not found")
        }
        let message: RPCMessage
        do {
            message = try RPCMessage.parse(body ?? ByteBuffer())
        } catch {
            return refuse(.badRequest, RPCErrorCode.parseError, "Parse error: \(error.reason)", id: error.id)
        }
        // Agents of the 2026-07-28 generation speak it over this transport too (no headers).
        let modern = ModernEnvelope.isModern(message, headers: [:])
        if modern, let rejection = ModernEnvelope.check(message, headers: nil) {
            write(status: .accepted, body: nil, extra: [])
            session.push?(RPC.error(id: message.id, code: rejection.code, message: rejection.message, data: rejection.data))
            return
        }
        write(status: .accepted, body: nil, extra: [])
        dispatch([message], session: session, modern: modern, batch: false)
    }

    private func delete() {
        guard let id = headers.first(name: "mcp-session-id") else {
            return refuse(.badRequest, RPCErrorCode.invalidRequest, "Bad Request: Mcp-Session-Id header is required")
        }
        guard snapshot.dispatcher.sessions.close(id, principal: principal) != nil else {
            return refuse(.notFound, RPCErrorCode.invalidRequest, "Session not found")
        }
        write(status: .ok, body: nil, extra: [])
    }

    private func post() {
        if Self.hasAccept(headers), !Self.accepts(headers, "application/json"), !Self.accepts(headers, "*/*"), !Self.accepts(headers, "application/*") {
            return refuse(.notAcceptable, RPCErrorCode.invalidRequest, "Not Acceptable: Client must accept application/json")
        }
        guard let type = headers.first(name: "content-type"), ASCII.hasPrefixIgnoringCase(type, "application/json") else {
            return refuse(.unsupportedMediaType, RPCErrorCode.invalidRequest, "Unsupported Media Type: Content-Type must be application/json")
        }
        let buffer = body ?? ByteBuffer()
        // One meaning only: a key given twice (`name` in tools/call, say) would let the gate
        // judge and audit one tool while the server runs another. A single message's members
        // are found in the same pass.
        let topLevel: [Range<Int>?]?
        do {
            topLevel = try buffer.withUnsafeReadableBytes { b in
                Result { () throws(JSONValidator.Failure) in try JSONValidator.validate(b, findingTopLevel: RPCMessage.topKeys) }
            }.get()
        } catch {
            if error.reason.hasPrefix("duplicate key") {
                return refuse(.badRequest, RPCErrorCode.invalidRequest, "Invalid Request: \(error.reason)")
            }
            return refuse(.badRequest, RPCErrorCode.parseError, "Parse error")
        }
        let isBatch = buffer.withUnsafeReadableBytes { raw in raw.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "[") }
        var messages: [RPCMessage] = []
        if isBatch {
            guard let ranges = buffer.withUnsafeReadableBytes({ JSONScanner.elements(in: $0) }), !ranges.isEmpty else {
                return refuse(.badRequest, RPCErrorCode.parseError, "Parse error: not a JSON-RPC batch")
            }
            for r in ranges {
                do {
                    messages.append(try RPCMessage.parse(buffer.getSlice(at: buffer.readerIndex + r.lowerBound, length: r.count)!))
                } catch {
                    return refuse(.badRequest, RPCErrorCode.invalidRequest, "Invalid Request: \(error.reason)", id: error.id)
                }
            }
        } else {
            do {
                messages.append(try RPCMessage.parse(buffer, topLevel: topLevel))
            } catch {
                let code = error.reason == "not a JSON object" ? RPCErrorCode.parseError : RPCErrorCode.invalidRequest
                return refuse(.badRequest, code, code == RPCErrorCode.parseError ? "Parse error" : "Invalid Request: \(error.reason)", id: error.id)
            }
        }
        let first = messages[0]
        let versionHeader = headers.first(name: "mcp-protocol-version")
        // 2026-07-28: no session; every request carries its version and is checked alone.
        if !isBatch, ModernEnvelope.isModern(first, headers: headers) {
            if let rejection = ModernEnvelope.check(first, headers: headers) {
                return refuse(.badRequest, rejection.code, rejection.message, id: first.id, data: rejection.data)
            }
            return dispatch(messages, session: nil, modern: true, batch: false)
        }
        if let versionHeader, !ProtocolVersions.handshake.contains(versionHeader) {
            return refuse(.badRequest, RPCErrorCode.invalidRequest, "Bad Request: Unsupported protocol version: \(versionHeader)")
        }
        if first.method == "initialize" {
            if isBatch {
                // Only 2025-03-26 allowed batches, and never with initialize in them.
                return refuse(.badRequest, RPCErrorCode.invalidRequest, "Invalid Request: initialize cannot be batched")
            }
            return dispatch(messages, session: nil, modern: false, batch: false)
        }
        guard let sessionID = headers.first(name: "mcp-session-id") else {
            return refuse(.badRequest, RPCErrorCode.invalidRequest, "Bad Request: Missing session ID")
        }
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        guard let session = snapshot.dispatcher.sessions.find(sessionID, principal: principal, now: now) else {
            return refuse(.notFound, RPCErrorCode.invalidRequest, "Session not found")
        }
        if isBatch, !ProtocolVersions.allowsBatches(session.protocolVersion) {
            return refuse(.badRequest, RPCErrorCode.invalidRequest, "Invalid Request: batches are not supported in protocol version \(session.protocolVersion)")
        }
        dispatch(messages, session: session, modern: false, batch: isBatch)
    }

    private func dispatch(_ messages: [RPCMessage], session: AgentSession?, modern: Bool, batch: Bool) {
        let loop = client.loopContext
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        let acceptsSSE = self.acceptsSSE
        let push = legacy ? session?.push : nil
        // Only a reply that may become a stream needs the slow-agent budget (made on first use:
        // most calls answer with one JSON body and never stream).
        let outbound = acceptsSSE && !batch && push == nil ? self.outbound : nil
        let pushPace = push == nil ? nil : session?.pushPace
        let emit: @Sendable (ByteBuffer) -> Bool = { message in
            if let push {
                guard pushPace?.admit(message.readableBytes) ?? true else { return false }
                push(message)
                return true
            }
            guard let outbound, outbound.admit(message.readableBytes) else { return false }
            bound.eventLoop.executeSoon { bound.value.stream(message) }
            return true
        }
        self.session = session
        let path = String(request.path)
        let calls = messages.map { m in
            MCPCall(message: m, consumer: request.consumer, policyContext: request.policyContext, session: session, modern: modern,
                    view: snapshot.view(for: request.consumer, path: session?.path ?? path), loop: loop, requestID: request.requestID,
                    path: path, emit: emit, pace: push != nil ? pushPace : outbound)
        }
        let dispatcher = snapshot.dispatcher
        work = Task(executorPreference: loop.taskExecutor) {
            var answers: [MCPAnswer] = []
            for call in calls { answers.append(await dispatcher.handle(call)) }
            if let push {
                for a in answers { if let b = a.body { push(b) } }
                return
            }
            let final = answers
            bound.eventLoop.executeSoon { bound.value.answer(final, batch: batch) }
        }
    }

    /// Writes the answers: one message, a batch array, or 202 when nothing needs an answer.
    private func answer(_ answers: [MCPAnswer], batch: Bool) {
        var extra: [(String, String)] = []
        if let session = answers.first?.openedSession { extra.append(("mcp-session-id", session.id)) }
        let bodies = answers.compactMap(\.body)
        if streaming {
            for (i, b) in bodies.enumerated() { stream(b, final: i == bodies.count - 1) }
            if !closed { client.writeResponseEnd(nil) }
            return
        }
        guard !bodies.isEmpty else { return write(status: .accepted, body: nil, extra: extra) }
        if batch {
            var out = client.allocator.buffer(capacity: bodies.reduce(2) { $0 + $1.readableBytes + 1 })
            out.writeStaticString("[")
            for (i, b) in bodies.enumerated() {
                if i > 0 { out.writeStaticString(",") }
                var b = b
                out.writeBuffer(&b)
            }
            out.writeStaticString("]")
            return write(status: .ok, body: out, extra: extra)
        }
        let one = answers.first { $0.body != nil }!
        write(status: one.status, body: one.body, extra: extra + one.headers)
    }

    /// Sends one message as an SSE event, switching the response to a stream on the first
    /// (nil only opens the stream). In a session, every event is kept for resumption, even
    /// after the client went away: it may come back with `Last-Event-ID`.
    private func stream(_ message: ByteBuffer?, final: Bool = false) {
        if !streaming {
            streaming = true
            streamID = session?.openStream()
            if !closed { openResponseStream() }
        }
        guard let message else { return client.flush() }
        var id: String?
        if let session, let streamID {
            seq += 1
            let event = ReplayBuffer.Event(stream: streamID, seq: seq, message: message, final: final)
            session.record(event)
            id = event.id
        }
        guard !closed else { return }
        writeEvent(message, id: id)
    }

    private func openResponseStream() {
        var h = HTTPHeaders()
        h.add(name: "content-type", value: "text/event-stream")
        h.add(name: "cache-control", value: "no-cache")
        h.add(name: "x-request-id", value: request.requestID)
        client.writeResponseHead(HTTPResponseHead(version: request.head.version, status: .ok, headers: h))
    }

    private func writeEvent(_ message: ByteBuffer, id: String?) {
        var event = client.allocator.buffer(capacity: message.readableBytes + 48)
        if let id { event.writeString("id: \(id)\n") }
        event.writeStaticString("event: message\ndata: ")
        var m = message
        event.writeBuffer(&m)
        event.writeStaticString("\n\n")
        client.writeResponseBody(event)
        client.flush()
    }

    private func refuse(_ status: HTTPResponseStatus, _ code: RPCErrorCode, _ message: String, id: String? = nil, data: JSONValue? = nil,
                        headers extra: [(String, String)] = []) {
        write(status: status, body: RPC.error(id: id, code: code, message: message, data: data), extra: extra)
    }

    private func write(status: HTTPResponseStatus, body: ByteBuffer?, extra: [(String, String)]) {
        guard !closed else { return }
        var h = HTTPHeaders()
        if body != nil { h.add(name: "content-type", value: "application/json") }
        h.add(name: "content-length", value: String(body?.readableBytes ?? 0))
        h.add(name: "x-request-id", value: request.requestID)
        for (n, v) in extra { h.add(name: n, value: v) }
        client.writeResponseHead(HTTPResponseHead(version: request.head.version, status: status, headers: h))
        if let body, body.readableBytes > 0 { client.writeResponseBody(body) }
        client.writeResponseEnd(nil)
    }

    func clientWritabilityChanged(isWritable: Bool) {
        outbound.writabilityChanged(isWritable)
    }

    func clientClosed() {
        closed = true
        standaloneOf?.setStandalone(nil)
        // Only 2026-07-28 cancels by closing: in the session revisions a disconnection is not
        // a cancellation (the agent may resume with Last-Event-ID), and a legacy POST's answer
        // is due on the session's stream.
        if !legacy, session == nil { work?.cancel() }
    }
}
