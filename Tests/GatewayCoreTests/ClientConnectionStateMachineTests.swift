import GatewayCore
import Testing

/// The client connection's life without a socket: each scenario drives the machine with the
/// events a handler would feed it and checks what it answers; the last test walks every sequence
/// of events up to a depth and checks the invariants after each.
@Suite struct ClientConnectionStateMachineTests {
    typealias M = ClientConnectionStateMachine

    @Test func aKeptAliveRequestGoesIdleAgainAndReadsTheNext() {
        var m = M(isHTTP2: false)
        #expect(m.state == .idle(firstRequest: true))
        #expect(m.inbound(queueEmpty: true) == .handle)
        m.receivedHead(keepAlive: true)
        #expect(m.requestOpen && m.responseOpen && !m.responseHeadSent)
        #expect(m.receivedBody() == .forward)
        let r1 = m.receivedEnd()
        #expect(r1 == .forward)
        #expect(m.state == .responding(headSent: false))
        // A pipelined request while the response is written waits.
        #expect(m.inbound(queueEmpty: true) == .queue)
        m.wroteResponseHead()
        #expect(m.responseHeadSent && !m.closesAfterResponse)
        let r2 = m.responseEnded()
        #expect(r2 == .next)
        m.exchangeDone()
        let r3 = m.next(queueEmpty: false)
        #expect(r3 == .serveQueued)
        let r4 = m.next(queueEmpty: true)
        #expect(r4 == .waitForRequest(read: false))
        #expect(m.state == .idle(firstRequest: false))
    }

    @Test func connectionCloseAndQuiescingCloseAfterTheResponse() {
        var m = M(isHTTP2: false)
        m.receivedHead(keepAlive: false)
        _ = m.receivedEnd()
        #expect(m.closesAfterResponse)
        let r5 = m.responseEnded()
        #expect(r5 == .close(unread: false))

        var q = M(isHTTP2: false)
        let r6 = q.quiesce()
        #expect(r6)  // nothing in flight: close now
        var busy = M(isHTTP2: false)
        busy.receivedHead(keepAlive: true)
        let r7 = busy.quiesce()
        #expect(!r7)
        #expect(busy.closesAfterResponse)
        _ = busy.receivedEnd()
        let r8 = busy.responseEnded()
        #expect(r8 == .close(unread: false))
        _ = q
    }

    @Test func anAnswerBeforeTheBodyEndsClosesHTTP1ByLingeringAndDrainsHTTP2() {
        var h1 = M(isHTTP2: false)
        h1.receivedHead(keepAlive: true)
        h1.wroteResponseHead()
        let r9 = h1.responseEnded()
        #expect(r9 == .close(unread: true))
        #expect(h1.state == .draining && h1.receivedBody() == .drop)
        h1.startedLingering()
        #expect(h1.inbound(queueEmpty: true) == .drop)
        let r10 = h1.readRequested(queueEmpty: false)
        #expect(r10)  // lingering reads and drops everything

        var h2 = M(isHTTP2: true)
        h2.receivedHead(keepAlive: true)
        let r11 = h2.responseEnded()
        #expect(r11 == .awaitBodyEnd)
        #expect(h2.receivedBody() == .drop)
        let r12 = h2.receivedEnd()
        #expect(r12 == .dropped(nextRequest: true))
        h2.exchangeDone()
        let r13 = h2.next(queueEmpty: true)
        #expect(r13 == .busy)  // a stream serves one request
    }

    @Test func aRefusalKeepsTheConnectionAndDropsTheRestOfTheBody() {
        var m = M(isHTTP2: false)
        m.receivedHead(keepAlive: true)
        m.rejecting(close: false)
        #expect(m.receivedBody() == .drop)
        m.wroteResponseHead()
        let r14 = m.responseEnded()
        #expect(r14 == .awaitBodyEnd)  // an error answer of ours keeps the connection
        let r15 = m.receivedEnd()
        #expect(r15 == .dropped(nextRequest: true))
        m.exchangeDone()
        let r16 = m.next(queueEmpty: true)
        #expect(r16 == .waitForRequest(read: false))

        var closing = M(isHTTP2: false)
        closing.receivedHead(keepAlive: true)
        closing.rejecting(close: true)
        closing.wroteResponseHead()
        let r17 = closing.responseEnded()
        #expect(r17 == .close(unread: true))
    }

    @Test func aFailureAnswersUntilTheHeadIsOutThenCuts() {
        var m = M(isHTTP2: false)
        m.receivedHead(keepAlive: true)
        let r18 = m.failing()
        #expect(r18 == .respond)
        #expect(m.closesAfterResponse)  // HTTP/1 cannot skip the rest of the body
        var h2 = M(isHTTP2: true)
        h2.receivedHead(keepAlive: true)
        let r19 = h2.failing()
        #expect(r19 == .respond && !h2.closesAfterResponse)
        var sent = M(isHTTP2: false)
        sent.receivedHead(keepAlive: true)
        _ = sent.receivedEnd()
        sent.wroteResponseHead()
        let r20 = sent.failing()
        #expect(r20 == .abort)
        sent.aborted()
        #expect(sent.state == .closed && sent.inbound(queueEmpty: true) == .drop)
    }

    @Test func partsWaitWhilePoliciesWaitAndReadsResumeAfter() {
        var m = M(isHTTP2: false)
        m.receivedHead(keepAlive: true)
        m.policiesPending()
        let r21 = m.receivedEnd()
        #expect(m.receivedBody() == .hold && r21 == .hold)
        let r22 = m.readRequested(queueEmpty: true)
        #expect(!r22 && m.readPending)
        m.policiesAnswered()
        #expect(m.receivedBody() == .forward)
        let r23 = m.resumeReads(queueEmpty: false)
        #expect(!r23 && m.readPending)  // queued parts first: the read is kept...
        let r24 = m.resumeReads(queueEmpty: true)
        #expect(r24 && !m.readPending)  // ...and made once they are served
        m.pauseReads()
        let r25 = m.readRequested(queueEmpty: true)
        #expect(!r25)
        let r26 = m.resumeReads(queueEmpty: true)
        #expect(r26)
    }

    @Test func badBytesAreAnsweredDeferredOrCutByWhereTheyAre() {
        var idle = M(isHTTP2: false)
        let r27 = idle.parseError(queueEmpty: true)
        #expect(r27 == .answer(newRequest: true))
        #expect(idle.closesAfterResponse && idle.requestOpen && idle.responseOpen)
        idle.wroteResponseHead()
        let r28 = idle.responseEnded()
        #expect(r28 == .close(unread: true))

        var answering = M(isHTTP2: false)
        answering.receivedHead(keepAlive: true)
        _ = answering.receivedEnd()
        let r29 = answering.parseError(queueEmpty: true)
        #expect(r29 == .deferred)
        _ = answering.responseEnded()
        answering.exchangeDone()
        let r30 = answering.next(queueEmpty: true)
        #expect(r30 == .answerParseError)
        #expect(answering.closesAfterResponse && !answering.parseErrorDeferred)

        var inBody = M(isHTTP2: false)
        inBody.receivedHead(keepAlive: true)
        let r31 = inBody.parseError(queueEmpty: true)
        #expect(r31 == .answer(newRequest: false))
        var cut = M(isHTTP2: false)
        cut.receivedHead(keepAlive: true)
        cut.wroteResponseHead()
        let r32 = cut.parseError(queueEmpty: true)
        #expect(r32 == .abort)
        var queuedFirst = M(isHTTP2: false)
        queuedFirst.receivedHead(keepAlive: true)
        cut.wroteResponseHead()
        let r33 = queuedFirst.parseError(queueEmpty: false)
        #expect(r33 == .deferred)
        var lingering = M(isHTTP2: false)
        lingering.startedLingering()
        let r34 = lingering.parseError(queueEmpty: true)
        #expect(r34 == .ignore)
    }

    @Test func theIdleTimerAnswersASilentNewConnectionAndClosesAKeptAliveOne() {
        var first = M(isHTTP2: false)
        let r35 = first.idleTimedOut()
        #expect(r35 == .answerTimeout)
        #expect(first.state == .responding(headSent: false))
        first.wroteResponseHead()
        let r36 = first.responseEnded()
        #expect(r36 == .close(unread: false))
        var later = M(isHTTP2: false)
        later.receivedHead(keepAlive: true)
        _ = later.receivedEnd()
        _ = later.responseEnded()
        let r37 = later.idleTimedOut()
        #expect(r37 == .close)
        var busy = M(isHTTP2: false)
        busy.receivedHead(keepAlive: true)
        let r38 = busy.idleTimedOut()
        #expect(r38 == .ignore)
    }

    @Test func theBodyTimerFailsAnOpenResponseOrClosesADrainingConnection() {
        var open = M(isHTTP2: false)
        open.receivedHead(keepAlive: true)
        let r39 = open.bodyTimedOut()
        #expect(r39 == .fail && open.closesAfterResponse)
        var draining = M(isHTTP2: false)
        draining.receivedHead(keepAlive: true)
        _ = draining.responseEnded()
        let r40 = draining.bodyTimedOut()
        #expect(r40 == .close)
        var done = M(isHTTP2: false)
        let r41 = done.bodyTimedOut()
        #expect(r41 == .ignore)
    }

    @Test func aClosedConnectionSaysWhetherItsResponseWasCut() {
        var m = M(isHTTP2: false)
        m.receivedHead(keepAlive: true)
        let r42 = m.closed()
        #expect(r42 == (responseOpen: true, headSent: false))
        var n = M(isHTTP2: false)
        n.receivedHead(keepAlive: true)
        n.wroteResponseHead()
        let r43 = n.closed()
        #expect(r43 == (responseOpen: true, headSent: true))
        var idle = M(isHTTP2: false)
        let r44 = idle.closed()
        #expect(r44 == (responseOpen: false, headSent: false))
    }

    /// Every sequence of events up to five long, from a new connection of each kind: after each
    /// event the machine's views agree with its state.
    @Test func everySequenceOfEventsKeepsTheInvariants() {
        let events: [(String, (inout M) -> Void)] = [
            ("head", { if $0.inbound(queueEmpty: true) == .handle, case .idle = $0.state { $0.receivedHead(keepAlive: true) } }),
            ("head-close", { if $0.inbound(queueEmpty: true) == .handle, case .idle = $0.state { $0.receivedHead(keepAlive: false) } }),
            ("body", { _ = $0.receivedBody() }),
            ("end", { _ = $0.receivedEnd() }),
            ("wrote-head", { $0.wroteResponseHead() }),
            ("response-end", { m in if m.responseOpen, case .close(let unread) = m.responseEnded(), unread { m.startedLingering() } }),
            ("reject", { if $0.responseOpen { $0.rejecting(close: false) } }),
            ("fail", { m in if m.responseOpen, m.failing() == .abort { m.aborted() } }),
            ("policies", { $0.policiesPending() }),
            ("answered", { $0.policiesAnswered() }),
            ("parse-error", { m in if m.parseError(queueEmpty: true) == .abort { m.aborted() } }),
            ("idle-timer", { m in if m.idleTimedOut() == .close { _ = m.closed() } }),
            ("body-timer", { m in if m.bodyTimedOut() == .close { _ = m.closed() } }),
            ("quiesce", { m in if m.quiesce() { _ = m.closed() } }),
            ("done", { m in if !m.requestOpen, !m.responseOpen { m.exchangeDone(); _ = m.next(queueEmpty: true) } }),
        ]
        var checked = 0
        func walk(_ m: M, depth: Int, path: [String]) {
            checked += 1
            let s = m.state
            #expect(!m.responseHeadSent || m.responseOpen, "\(path)")
            #expect(!(m.requestOpen && !m.responseOpen) || s == .draining, "\(path)")
            if s == .lingering || s == .closed { #expect(m.inbound(queueEmpty: true) == .drop, "\(path)") }
            if case .responding = s { #expect(m.inbound(queueEmpty: true) == .queue, "\(path)") }
            if m.quiescing { #expect(!m.keepAlive || !m.requestOpen && !m.responseOpen || m.closesAfterResponse, "\(path)") }
            guard depth > 0 else { return }
            for (name, event) in events {
                var next = m
                event(&next)
                walk(next, depth: depth - 1, path: path + [name])
            }
        }
        walk(M(isHTTP2: false), depth: 5, path: ["h1"])
        walk(M(isHTTP2: true), depth: 4, path: ["h2"])
        #expect(checked > 100_000)
    }
}
