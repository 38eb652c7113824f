/// The life of one client connection (HTTP/1.1) or stream (HTTP/2), as a value: which request
/// is in flight, how its body and its response overlap, whether the connection stays open after
/// it, and when the client may be read from. The NIO handler feeds it events and does what it
/// answers; no I/O, no clock and no allocation here, so every transition is tested without a
/// socket (as Hummingbird tests its HTTP/1 connection state machine).
///
/// HTTP/1.1 pipelining is served one request at a time: a request that arrives while the one
/// before it is still being answered waits in the handler's queue (`Inbound.queue`), and reading
/// stops until the queue is served.
package struct ClientConnectionStateMachine: Sendable {
    package enum State: Equatable, Sendable {
        /// Waiting for a request head: before the connection's first one (the header timeout
        /// applies) or between requests (the keep-alive timeout does).
        case idle(firstRequest: Bool)
        /// A request is in flight: its body may still come and its response has not ended.
        case exchanging(Exchange)
        /// The request is complete; its response is still being written.
        case responding(headSent: Bool)
        /// The response ended before the request did: the rest of the body is read and dropped.
        case draining
        /// The output side is shut after an answer sent while the client was still sending;
        /// what it sends is dropped until it closes (nginx's lingering close).
        case lingering
        case closed
    }

    package struct Exchange: Equatable, Sendable {
        /// The response head was written: an error can no longer be answered, only cut.
        package var headSent = false
        /// A policy waits on I/O: the request's parts are held until it answers.
        package var held = false
        /// The gateway answered with an error: the rest of the body is dropped.
        package var discarding = false

        package init(headSent: Bool = false, held: Bool = false, discarding: Bool = false) {
            self.headSent = headSent
            self.held = held
            self.discarding = discarding
        }
    }

    package private(set) var state: State = .idle(firstRequest: true)
    /// The current request lets the connection stay open (the client asked, and the gateway is
    /// not stopping).
    package private(set) var keepAlive = true
    /// The connection closes after the current response, whatever the client asked.
    package private(set) var closeAfterResponse = false
    /// The gateway is stopping: the request in flight is finished, then the connection closed.
    package private(set) var quiescing = false
    /// The exchange (or a policy waiting on I/O) asked for no more reads.
    package private(set) var readsPaused = false
    /// A read was asked for while reads were held back; it is made once they may go on.
    package private(set) var readPending = false
    /// The parser refused bytes after a request still being answered: refused once every
    /// request before them is answered.
    package private(set) var parseErrorDeferred = false
    let isHTTP2: Bool

    package init(isHTTP2: Bool) {
        self.isHTTP2 = isHTTP2
    }

    /// A request head arrived and its end has not (its body is still coming or being dropped).
    package var requestOpen: Bool {
        switch state {
        case .exchanging, .draining: return true
        default: return false
        }
    }

    /// A response is being written and has not ended.
    package var responseOpen: Bool {
        switch state {
        case .exchanging, .responding: return true
        default: return false
        }
    }

    package var responseHeadSent: Bool {
        switch state {
        case .exchanging(let e): return e.headSent
        case .responding(let headSent): return headSent
        default: return false
        }
    }

    package var isLingering: Bool { state == .lingering }

    // MARK: Reading

    package enum Inbound: Equatable, Sendable {
        /// Serve the part now.
        case handle
        /// A pipelined request while the one before is being answered: keep it for later.
        case queue
        /// Nobody will use it (lingering, or closed).
        case drop
    }

    /// A request part was read; `queueEmpty` says whether earlier parts still wait.
    package func inbound(queueEmpty: Bool) -> Inbound {
        switch state {
        case .lingering, .closed: return .drop
        case .responding: return .queue
        default: return queueEmpty ? .handle : .queue
        }
    }

    /// The channel asks to read: true to read now; else it is kept for later.
    package mutating func readRequested(queueEmpty: Bool) -> Bool {
        if state == .lingering { return true }
        if readsPaused || !queueEmpty {
            readPending = true
            return false
        }
        return true
    }

    package mutating func pauseReads() { readsPaused = true }

    /// The exchange may be read for again: true to make the read that was held back.
    package mutating func resumeReads(queueEmpty: Bool) -> Bool {
        readsPaused = false
        guard readPending, queueEmpty else { return false }
        readPending = false
        return true
    }

    // MARK: The request

    /// A request head arrived (only when `inbound` said `handle`, so the connection is idle).
    package mutating func receivedHead(keepAlive: Bool) {
        state = .exchanging(Exchange())
        self.keepAlive = keepAlive && !quiescing
    }

    /// A policy of the request waits on I/O: its parts are held and reading pauses.
    package mutating func policiesPending() {
        if case .exchanging(var e) = state {
            e.held = true
            state = .exchanging(e)
        }
        readsPaused = true
    }

    /// The policies answered: the held parts are handled again.
    package mutating func policiesAnswered() {
        if case .exchanging(var e) = state {
            e.held = false
            state = .exchanging(e)
        }
    }

    package enum Part: Equatable, Sendable {
        /// To the exchange.
        case forward
        /// Kept until the policies answer.
        case hold
        /// The body is being dropped.
        case drop
        /// No request is open (a stray part): nothing to do.
        case ignore
    }

    /// A body part arrived.
    package func receivedBody() -> Part {
        switch state {
        case .exchanging(let e): return e.held ? .hold : e.discarding ? .drop : .forward
        case .draining: return .drop
        default: return .ignore
        }
    }

    package enum End: Equatable, Sendable {
        /// To the exchange: the request is complete, its response goes on.
        case forward
        case hold
        /// The dropped body ended; with `nextRequest`, the response had ended too: serve what
        /// comes next (`ResponseEnd.next`).
        case dropped(nextRequest: Bool)
        case ignore
    }

    /// The request's end arrived.
    package mutating func receivedEnd() -> End {
        switch state {
        case .exchanging(let e):
            if e.held { return .hold }
            state = .responding(headSent: e.headSent)
            return e.discarding ? .dropped(nextRequest: false) : .forward
        case .draining:
            state = .idle(firstRequest: false)
            return .dropped(nextRequest: true)
        default:
            return .ignore
        }
    }

    /// The body timer fired and the client has indeed been silent too long.
    package enum BodyTimeout: Equatable, Sendable {
        /// Answer 408 (the response has not begun) or cut the response, and close.
        case fail
        /// Only the body was left: close.
        case close
        case ignore
    }

    package mutating func bodyTimedOut() -> BodyTimeout {
        guard requestOpen else { return .ignore }
        guard responseOpen else { return .close }
        closeAfterResponse = true
        return .fail
    }

    // MARK: The response

    /// The response head was written.
    package mutating func wroteResponseHead() {
        switch state {
        case .exchanging(var e):
            e.headSent = true
            state = .exchanging(e)
        case .responding:
            state = .responding(headSent: true)
        default:
            break
        }
    }

    /// The response head says the body ends with the close (an HTTP/1.0 answer without a length).
    package mutating func closeAfterThisResponse() { closeAfterResponse = true }

    /// Whether the response head should ask for the connection to close.
    package var closesAfterResponse: Bool { closeAfterResponse || !keepAlive }

    package enum ResponseEnd: Equatable, Sendable {
        /// Close once the end is written; with `unread`, the client is still sending, so close
        /// by lingering (`startedLingering`), else at once.
        case close(unread: Bool)
        /// Kept alive, and both sides are done: serve what comes next.
        case next
        /// Kept alive; the rest of the request's body is dropped as it comes.
        case awaitBodyEnd
    }

    /// The response ended (its end is about to be written).
    package mutating func responseEnded() -> ResponseEnd {
        switch state {
        case .exchanging(let e):
            // The upstream answered before the client finished sending. HTTP/1 cannot skip
            // the rest of the body cheaply, so it closes after it; an error answer of ours said
            // so already when it chose to.
            if !e.discarding, !isHTTP2 { closeAfterResponse = true }
            state = .draining
        case .responding:
            state = .idle(firstRequest: false)
        default:
            break
        }
        if closeAfterResponse || !keepAlive { return .close(unread: requestOpen) }
        return requestOpen ? .awaitBodyEnd : .next
    }

    /// The response ended mid-way (its upstream failed after its head): the connection is cut.
    package mutating func aborted() { state = .closed }

    package mutating func startedLingering() { state = .lingering }

    package enum Failure: Equatable, Sendable {
        /// Answer with the error.
        case respond
        /// The head is out: the response can only be cut.
        case abort
    }

    /// The exchange fails its request: an error answer, and the rest of the body dropped (HTTP/1
    /// then closes the connection, since it cannot skip it cheaply).
    package mutating func failing() -> Failure {
        if responseHeadSent { return .abort }
        if case .exchanging(var e) = state {
            e.discarding = true
            state = .exchanging(e)
        }
        if requestOpen, !isHTTP2 { closeAfterResponse = true }
        return .respond
    }

    /// The gateway refuses the request before any upstream is involved; `close` when the rest of
    /// the connection's bytes cannot be trusted.
    package mutating func rejecting(close: Bool) {
        if close { closeAfterResponse = true }
        if case .exchanging(var e) = state {
            e.discarding = true
            state = .exchanging(e)
        }
    }

    // MARK: The connection

    package enum ParseError: Equatable, Sendable {
        /// Answer 400 (or 431) and close; with `newRequest`, no request was being answered.
        case answer(newRequest: Bool)
        /// Requests before the bad bytes are answered first (`next` then says to refuse).
        case deferred
        /// The bad bytes are in a request whose answer has begun: it can only be cut.
        case abort
        case ignore
    }

    /// The HTTP parser refused the client's bytes.
    package mutating func parseError(queueEmpty: Bool) -> ParseError {
        switch state {
        case .lingering, .closed:
            return .ignore  // the rest of a refused request fails to parse: expected
        case .responding:
            parseErrorDeferred = true
            return .deferred
        default:
            // Whole requests before the bad bytes are answered first (their parts were read
            // before the parser failed); the refusal follows them.
            if !queueEmpty {
                parseErrorDeferred = true
                return .deferred
            }
            if case .exchanging(let e) = state, e.headSent { return .abort }
            return answerParseError()
        }
    }

    /// Answering the refused bytes: the connection closes after, by lingering (input may follow).
    private mutating func answerParseError() -> ParseError {
        let newRequest = !responseOpen
        closeAfterResponse = true
        state = .exchanging(Exchange(discarding: true))
        return .answer(newRequest: newRequest)
    }

    package enum Next: Equatable, Sendable {
        /// Serve the next queued part.
        case serveQueued
        /// Refuse the bytes the parser refused earlier (an answer to a new request).
        case answerParseError
        /// Wait for the next request: arm the keep-alive timer; with `read`, make the read that
        /// was held back.
        case waitForRequest(read: Bool)
        /// A request is open again (a queued one): nothing more now.
        case busy
    }

    /// Both the request and its response are done: reads may go on (`next` says what comes).
    package mutating func exchangeDone() { readsPaused = false }

    /// What now, once an exchange is done or a queued part was just served.
    package mutating func next(queueEmpty: Bool) -> Next {
        if isHTTP2 { return .busy }
        if !queueEmpty {
            // A queued part may be served unless a response is being written without its
            // request (the part is the next request's).
            if case .responding = state { return .busy }
            return .serveQueued
        }
        guard case .idle = state else { return .busy }
        if parseErrorDeferred {
            parseErrorDeferred = false
            _ = answerParseError()
            return .answerParseError
        }
        let read = readPending
        readPending = false
        return .waitForRequest(read: read)
    }

    package enum Idle: Equatable, Sendable {
        /// No whole request head in time: answer 408 and close.
        case answerTimeout
        /// A kept-alive connection idled out: close.
        case close
        case ignore
    }

    /// The idle timer fired.
    package mutating func idleTimedOut() -> Idle {
        guard case .idle(let first) = state else { return .ignore }
        guard first else { return .close }
        closeAfterResponse = true
        state = .responding(headSent: false)
        return .answerTimeout
    }

    /// The gateway stops: true to close now (nothing in flight); else after the response.
    package mutating func quiesce() -> Bool {
        quiescing = true
        if !requestOpen, !responseOpen { return true }
        closeAfterResponse = true
        return false
    }

    /// The connection closed. Returns whether a response was open, and whether its head was out.
    package mutating func closed() -> (responseOpen: Bool, headSent: Bool) {
        let open = (responseOpen, responseHeadSent)
        state = .closed
        return open
    }
}
