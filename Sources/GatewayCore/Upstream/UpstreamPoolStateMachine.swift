import DequeModule

/// The decisions of one target's connection pool on one event loop, with no I/O.
///
/// As in AsyncHTTPClient's pool, the logic is a value that takes events and returns the
/// action its shell (`UpstreamPool`) must perform, so every path is tested without sockets.
/// Idle connections are reused last-in first-out: the most recently used one is the least
/// likely to have been closed by the upstream, and the rest age out by the idle timeout.
package struct UpstreamPoolStateMachine: Sendable {
    package typealias ConnectionID = Int
    package typealias WaiterID = Int

    package enum Action: Equatable, Sendable {
        case none
        /// Hand this connection to this waiter.
        case lease(ConnectionID, to: WaiterID)
        /// Open a new connection with this id.
        case createConnection(ConnectionID)
        /// Tell this waiter that no connection could be had.
        case failWaiter(WaiterID)
        /// Close this connection; then, if `thenCreate` is set, open that one for a waiter.
        case closeConnection(ConnectionID, thenCreate: ConnectionID?)
        /// Keep this connection idle and arm its idle timer.
        case parkIdle(ConnectionID)
    }

    enum ConnectionState: Equatable, Sendable {
        case connecting, idle, leased
    }

    package let maxConnections: Int
    private var connections: [ConnectionID: ConnectionState] = [:]
    private var idle: [ConnectionID] = []
    private var waiters: Deque<WaiterID> = []
    private var connecting = 0
    private var nextConnectionID = 0
    private var isShutDown = false

    package init(maxConnections: Int) {
        precondition(maxConnections > 0)
        self.maxConnections = maxConnections
    }

    package var connectionCount: Int { connections.count }
    package var idleCount: Int { idle.count }
    package var waiterCount: Int { waiters.count }
    package var connectingCount: Int { connecting }

    /// A request wants a connection.
    package mutating func acquire(_ waiter: WaiterID) -> Action {
        if isShutDown { return .failWaiter(waiter) }
        if let id = idle.popLast() {
            connections[id] = .leased
            return .lease(id, to: waiter)
        }
        waiters.append(waiter)
        return startConnectionIfWanted().map { .createConnection($0) } ?? .none
    }

    /// A waiter gave up (its deadline passed, or its client left).
    package mutating func cancel(_ waiter: WaiterID) {
        if let i = waiters.firstIndex(of: waiter) { waiters.remove(at: i) }
    }

    /// A connection attempt succeeded.
    package mutating func connected(_ id: ConnectionID) -> Action {
        guard connections[id] == .connecting else { return .closeConnection(id, thenCreate: nil) }
        connecting -= 1
        if isShutDown {
            connections[id] = nil
            return .closeConnection(id, thenCreate: nil)
        }
        return handOutOrPark(id)
    }

    /// A connection attempt failed: the oldest waiter learns of it, so one dead target cannot
    /// hold a queue of requests until each one's own deadline.
    package mutating func connectFailed(_ id: ConnectionID) -> Action {
        guard connections[id] == .connecting else { return .none }
        connections[id] = nil
        connecting -= 1
        if let waiter = waiters.popFirst() { return .failWaiter(waiter) }
        return .none
    }

    /// A leased connection finished its exchange. `reusable` is false when either side asked
    /// to close or the exchange ended early.
    package mutating func release(_ id: ConnectionID, reusable: Bool) -> Action {
        guard connections[id] == .leased else { return .none }
        guard reusable, !isShutDown else {
            connections[id] = nil
            return .closeConnection(id, thenCreate: startConnectionIfWanted())
        }
        return handOutOrPark(id)
    }

    /// A connection closed on its own (the upstream hung up while it was idle or leased).
    package mutating func closed(_ id: ConnectionID) -> Action {
        guard let state = connections.removeValue(forKey: id) else { return .none }
        switch state {
        case .idle: if let i = idle.firstIndex(of: id) { idle.remove(at: i) }
        case .connecting: connecting -= 1
        case .leased: break
        }
        return startConnectionIfWanted().map { .createConnection($0) } ?? .none
    }

    /// The idle timer of a connection fired.
    package mutating func idleTimeout(_ id: ConnectionID) -> Action {
        guard connections[id] == .idle else { return .none }
        connections[id] = nil
        if let i = idle.firstIndex(of: id) { idle.remove(at: i) }
        return .closeConnection(id, thenCreate: nil)
    }

    /// Stop handing out connections; returns the idle ones to close and the waiters to fail.
    package mutating func shutdown() -> (close: [ConnectionID], fail: [WaiterID]) {
        isShutDown = true
        let close = idle
        for id in idle { connections[id] = nil }
        idle.removeAll()
        let fail = Array(waiters)
        waiters.removeAll()
        return (close, fail)
    }

    /// Opens a connection when waiters outnumber the connections already being opened and
    /// the pool has room.
    private mutating func startConnectionIfWanted() -> ConnectionID? {
        guard !isShutDown, waiters.count > connecting, connections.count < maxConnections else { return nil }
        let id = nextConnectionID
        nextConnectionID += 1
        connections[id] = .connecting
        connecting += 1
        return id
    }

    private mutating func handOutOrPark(_ id: ConnectionID) -> Action {
        if let waiter = waiters.popFirst() {
            connections[id] = .leased
            return .lease(id, to: waiter)
        }
        connections[id] = .idle
        idle.append(id)
        return .parkIdle(id)
    }
}
