import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// What each event loop owns: its upstream pools, its timers, its held flushes and its request-id counter. The data plane
/// never shares mutable state across loops, so a request takes no lock and makes no hop.
package final class LoopContext: @unchecked Sendable {
    // @unchecked: every mutable field is touched only on `eventLoop` (checked in debug builds).
    package let index: Int
    package let eventLoop: EventLoop
    /// Tasks that prefer this executor run on `eventLoop`.
    package let taskExecutor: EventLoopTaskExecutor
    /// The loop's timers for timeouts that are armed per request and rarely fire.
    package let timers: LoopTimers
    /// Flushes held to the end of the loop's tick: client answers and upstream requests.
    package let flushes: LoopFlushes
    private var pools: [UpstreamPoolKey: UpstreamPool] = [:]
    private var requestIDs: RequestIDGenerator
    private let tls: TLSClientContexts

    init(index: Int, eventLoop: EventLoop, tls: TLSClientContexts) {
        self.index = index
        self.eventLoop = eventLoop
        self.taskExecutor = EventLoopTaskExecutor(eventLoop)
        self.timers = LoopTimers(eventLoop: eventLoop)
        self.flushes = LoopFlushes(eventLoop: eventLoop)
        self.requestIDs = RequestIDGenerator(loopIndex: index)
        self.tls = tls
    }

    /// The pool for `key` on this loop, made on first use.
    package func pool(for key: UpstreamPoolKey) -> UpstreamPool {
        eventLoop.preconditionInEventLoop()
        if let pool = pools[key] { return pool }
        let ssl = key.target.scheme == .https ? tls.context(for: key.tls, h2: key.protocol == .h2) : nil
        let pool = UpstreamPool(key: key, eventLoop: eventLoop, timers: timers, flushes: flushes, sslContext: ssl)
        pools[key] = pool
        return pool
    }

    /// A new request id.
    package func nextRequestID() -> String {
        requestIDs.next()
    }

    /// Closes idle upstream connections and refuses new leases.
    package func shutdownPools() {
        eventLoop.preconditionInEventLoop()
        for pool in pools.values { pool.shutdown() }
    }
}

/// The loop contexts of one event loop group, found by loop.
package final class LoopContexts: Sendable {
    package let all: [LoopContext]
    private let byLoop: [ObjectIdentifier: LoopContext]

    package init(group: EventLoopGroup) {
        let tls = TLSClientContexts()
        var all: [LoopContext] = []
        for (i, loop) in group.makeIterator().enumerated() {
            all.append(LoopContext(index: i, eventLoop: loop, tls: tls))
        }
        self.all = all
        self.byLoop = Dictionary(uniqueKeysWithValues: all.map { (ObjectIdentifier($0.eventLoop), $0) })
    }

    package func context(for loop: EventLoop) -> LoopContext {
        guard let c = byLoop[ObjectIdentifier(loop)] else {
            preconditionFailure("event loop \(loop) is not part of this gateway's group")
        }
        return c
    }
}

/// TLS client contexts shared by all upstream pools, one per distinct TLS setting: building
/// one loads the trust store, which is slow, and a context is safe to share.
final class TLSClientContexts: Sendable {
    private struct Key: Hashable {
        var tls: UpstreamTLS
        var h2: Bool
    }

    private let contexts = NIOLockedValueBox<[Key: NIOSSLContext]>([:])

    func context(for tls: UpstreamTLS, h2: Bool) -> NIOSSLContext? {
        contexts.withLockedValue { all in
            let key = Key(tls: tls, h2: h2)
            if let existing = all[key] { return existing }
            var c = TLSConfiguration.makeClientConfiguration()
            if !tls.verify { c.certificateVerification = .none }
            if let ca = tls.caFile { c.trustRoots = .file(ca) }
            c.applicationProtocols = h2 ? ["h2"] : ["http/1.1"]
            let made = try? NIOSSLContext(configuration: c)
            all[key] = made
            return made
        }
    }
}
