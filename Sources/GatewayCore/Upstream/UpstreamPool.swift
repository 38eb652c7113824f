import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Kept-alive connections to one upstream target from one event loop: the thin I/O shell
/// around `UpstreamPoolStateMachine`. Living on the loop of the connections it serves, it needs
/// no locks and no thread hops; every call must come from that loop.
package final class UpstreamPool {
    package typealias Callback = (Result<UpstreamConnection, UpstreamError>) -> Void

    package let key: UpstreamPoolKey
    package let eventLoop: EventLoop
    /// The loop's timers: upstream calls and idle connections arm theirs there.
    package let timers: LoopTimers
    /// The loop's held flushes: requests written to the pool's connections go out at the end
    /// of the tick.
    let flushes: LoopFlushes
    private let sslContext: NIOSSLContext?
    private var state: UpstreamPoolStateMachine
    private var waiters: [UpstreamPoolStateMachine.WaiterID: Callback] = [:]
    private var connections: [UpstreamPoolStateMachine.ConnectionID: UpstreamConnection] = [:]
    private var nextWaiter = 0
    /// For `protocol: h2`: the one multiplexed connection that carries every request.
    private var http2: UpstreamHTTP2Session?

    init(key: UpstreamPoolKey, eventLoop: EventLoop, timers: LoopTimers, flushes: LoopFlushes, sslContext: NIOSSLContext?) {
        self.key = key
        self.eventLoop = eventLoop
        self.timers = timers
        self.flushes = flushes
        self.sslContext = sslContext
        self.state = UpstreamPoolStateMachine(maxConnections: key.maxConnections)
        if key.protocol == .h2 {
            self.http2 = UpstreamHTTP2Session(eventLoop: eventLoop, scheme: key.target.scheme)
        }
    }

    /// Connections open or opening, and idle ones.
    package var connectionCount: Int { state.connectionCount + (http2?.isConnected == true ? 1 : 0) }
    package var idleCount: Int { state.idleCount }

    /// Asks for a connection; `callback` runs on this loop, at once for an idle connection.
    /// Returns an id for `cancel`.
    @discardableResult
    package func acquire(_ callback: @escaping Callback) -> Int {
        eventLoop.preconditionInEventLoop()
        let waiter = nextWaiter
        nextWaiter += 1
        if let http2 {
            http2.acquire(waiter, pool: self, callback)
            return waiter
        }
        waiters[waiter] = callback
        run(state.acquire(waiter))
        return waiter
    }

    /// Withdraws a request for a connection (its deadline passed, or its client left).
    package func cancel(_ waiter: Int) {
        http2?.cancel(waiter)
        if waiters.removeValue(forKey: waiter) != nil { state.cancel(waiter) }
    }

    func release(_ connection: UpstreamConnection, reusable: Bool) {
        if connection.isStream {
            // A stream that did not end cleanly is reset; a finished one has closed itself.
            if !reusable { connection.channel.close(promise: nil) }
            return
        }
        run(state.release(connection.id, reusable: reusable))
    }

    func connectionClosed(_ connection: UpstreamConnection) {
        if connection.isStream { return }
        connections[connection.id] = nil
        timers.cancel(connection.idleTimer)
        run(state.closed(connection.id))
    }

    /// Closes idle connections and fails waiters; leased connections close when released.
    package func shutdown() {
        http2?.shutdown()
        let (close, fail) = state.shutdown()
        for id in close { closeConnection(id) }
        for w in fail { waiters.removeValue(forKey: w)?(.failure(.unavailable)) }
    }

    private func run(_ action: UpstreamPoolStateMachine.Action) {
        switch action {
        case .none:
            break
        case .lease(let id, let waiter):
            let connection = connections[id]
            if let connection { timers.cancel(connection.idleTimer) }
            guard let connection, let callback = waiters.removeValue(forKey: waiter) else {
                // The waiter left between the decision and now: the connection goes back.
                if let connection { run(state.release(connection.id, reusable: true)) }
                return
            }
            callback(.success(connection))
        case .createConnection(let id):
            connect(id)
        case .failWaiter(let waiter):
            waiters.removeValue(forKey: waiter)?(.failure(.connectFailed(lastConnectError ?? "no connection")))
        case .closeConnection(let id, let thenCreate):
            closeConnection(id)
            if let thenCreate { connect(thenCreate) }
        case .parkIdle(let id):
            guard let connection = connections[id] else { return }
            if connection.idleTimer == nil {
                connection.idleTimer = LoopTimer { [weak self] in
                    guard let self else { return }
                    self.run(self.state.idleTimeout(id))
                }
            }
            timers.arm(connection.idleTimer!, in: idleTimeout)
        }
    }

    private var lastConnectError: String?

    private var idleTimeout: TimeAmount {
        .nanoseconds(Int64(key.idleTimeout.components.seconds) * 1_000_000_000 + key.idleTimeout.components.attoseconds / 1_000_000_000)
    }

    private func closeConnection(_ id: UpstreamPoolStateMachine.ConnectionID) {
        if let c = connections.removeValue(forKey: id) {
            timers.cancel(c.idleTimer)
            c.delegate = nil
            c.channel.close(promise: nil)
        }
    }

    /// Opens a TCP (and TLS) connection to the target, with nothing above TLS yet.
    func openChannel() -> EventLoopFuture<Channel> {
        let key = self.key
        let sslContext = self.sslContext
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(key.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let name = key.tls.serverName ?? (key.target.host.isIPAddress ? nil : key.target.host)
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: name))
                    }
                }
            }
        if let address = try? SocketAddress(ipAddress: key.target.host, port: key.target.port) {
            return bootstrap.connect(to: address)
        }
        return bootstrap.connect(host: key.target.host, port: key.target.port)
    }

    private func connect(_ id: UpstreamPoolStateMachine.ConnectionID) {
        openChannel().assumeIsolated().whenComplete { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let channel):
                let connection = UpstreamConnection(id: id, channel: channel, pool: self)
                let decoder = HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)
                let reading = UpstreamReadState()
                let handler = UpstreamConnectionHandler(connection: connection, decoder: decoder, reading: reading)
                connection.handler = handler
                do {
                    // The handler writes the request bytes itself, past the decoder, and tells
                    // it of each head (see `UpstreamResponseDecoder`).
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(UpstreamResponseDecoder(decoder, reading: reading)))
                    try channel.pipeline.syncOperations.addHandler(handler)
                } catch {
                    channel.close(promise: nil)
                    self.lastConnectError = "\(error)"
                    self.run(self.state.connectFailed(id))
                    return
                }
                self.connections[id] = connection
                self.run(self.state.connected(id))
            case .failure(let error):
                self.lastConnectError = "\(error)"
                self.run(self.state.connectFailed(id))
            }
        }
    }
}

/// What identifies a pool: the target and the settings its connections are made with. Routes
/// that share these share the pool, and a reload that keeps them keeps the warm connections.
package struct UpstreamPoolKey: Hashable, Sendable {
    package let target: UpstreamURL
    package let maxConnections: Int
    package let idleTimeout: Duration
    package let connectTimeout: TimeAmount
    package let `protocol`: UpstreamProtocol
    package let tls: UpstreamTLS
    /// Every upstream call finds its pool by key: the key's strings are hashed once, here.
    private let hashed: Int

    package init(target: UpstreamURL, maxConnections: Int, idleTimeout: Duration, connectTimeout: TimeAmount,
                protocol: UpstreamProtocol = .http1, tls: UpstreamTLS = UpstreamTLS()) {
        self.target = target
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
        self.protocol = `protocol`
        self.tls = tls
        var hasher = Hasher()
        hasher.combine(target)
        hasher.combine(maxConnections)
        hasher.combine(idleTimeout)
        hasher.combine(connectTimeout)
        hasher.combine(`protocol`)
        hasher.combine(tls)
        self.hashed = hasher.finalize()
    }

    /// The same settings for another target.
    package func with(target: UpstreamURL) -> Self {
        Self(target: target, maxConnections: maxConnections, idleTimeout: idleTimeout, connectTimeout: connectTimeout,
             protocol: `protocol`, tls: tls)
    }

    package func hash(into hasher: inout Hasher) { hasher.combine(hashed) }

    package static func == (a: Self, b: Self) -> Bool {
        a.hashed == b.hashed && a.target == b.target && a.maxConnections == b.maxConnections && a.idleTimeout == b.idleTimeout
            && a.connectTimeout == b.connectTimeout && a.protocol == b.protocol && a.tls == b.tls
    }
}

extension String {
    /// Whether this is an IPv4 or IPv6 literal (no name resolution needed, no SNI).
    var isIPAddress: Bool { (try? SocketAddress(ipAddress: self, port: 0)) != nil }
}
