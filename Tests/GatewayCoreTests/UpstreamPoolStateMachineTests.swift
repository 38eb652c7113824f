import GatewayCore
import Testing

@Suite struct UpstreamPoolStateMachineTests {
    typealias SM = UpstreamPoolStateMachine

    @Test func firstAcquireOpensAConnectionAndLeasesItWhenConnected() {
        var sm = SM(maxConnections: 2)
        #expect(sm.acquire(1) == .createConnection(0))
        #expect(sm.connected(0) == .lease(0, to: 1))
        #expect(sm.release(0, reusable: true) == .parkIdle(0))
        #expect(sm.idleCount == 1)
        // The idle connection is reused, no new connection.
        #expect(sm.acquire(2) == .lease(0, to: 2))
        #expect(sm.connectionCount == 1)
    }

    @Test func waitersQueueWhenThePoolIsFullAndGetReleasedConnections() {
        var sm = SM(maxConnections: 1)
        #expect(sm.acquire(1) == .createConnection(0))
        #expect(sm.acquire(2) == .none)  // full: waits
        #expect(sm.connected(0) == .lease(0, to: 1))
        #expect(sm.release(0, reusable: true) == .lease(0, to: 2))
        #expect(sm.waiterCount == 0)
    }

    @Test func aNonReusableReleaseOpensAReplacementForAWaiter() {
        var sm = SM(maxConnections: 1)
        _ = sm.acquire(1)
        _ = sm.connected(0)
        #expect(sm.acquire(2) == .none)
        #expect(sm.release(0, reusable: false) == .closeConnection(0, thenCreate: 1))
        #expect(sm.connected(1) == .lease(1, to: 2))
    }

    @Test func aFailedConnectFailsTheOldestWaiter() {
        var sm = SM(maxConnections: 4)
        #expect(sm.acquire(1) == .createConnection(0))
        #expect(sm.acquire(2) == .createConnection(1))
        #expect(sm.connectFailed(0) == .failWaiter(1))
        #expect(sm.connected(1) == .lease(1, to: 2))
    }

    @Test func cancelledWaitersAreSkipped() {
        var sm = SM(maxConnections: 1)
        _ = sm.acquire(1)
        sm.cancel(1)
        #expect(sm.connected(0) == .parkIdle(0))
    }

    @Test func idleTimeoutClosesOnlyIdleConnections() {
        var sm = SM(maxConnections: 2)
        _ = sm.acquire(1)
        _ = sm.connected(0)
        #expect(sm.idleTimeout(0) == .none)  // leased: ignored
        _ = sm.release(0, reusable: true)
        #expect(sm.idleTimeout(0) == .closeConnection(0, thenCreate: nil))
        #expect(sm.connectionCount == 0)
    }

    @Test func anUpstreamCloseWhileIdleForgetsTheConnection() {
        var sm = SM(maxConnections: 2)
        _ = sm.acquire(1)
        _ = sm.connected(0)
        _ = sm.release(0, reusable: true)
        #expect(sm.closed(0) == .none)
        #expect(sm.acquire(2) == .createConnection(1))
    }

    @Test func shutdownClosesIdleFailsWaitersAndRefusesNewOnes() {
        var sm = SM(maxConnections: 1)
        _ = sm.acquire(1)
        _ = sm.connected(0)
        _ = sm.acquire(2)
        let (close, fail) = sm.shutdown()
        #expect(close == [] && fail == [2])
        #expect(sm.release(0, reusable: true) == .closeConnection(0, thenCreate: nil))
        #expect(sm.acquire(3) == .failWaiter(3))
    }
}
