import GatewayCore
import NIOConcurrencyHelpers
import NIOCore

/// The API gate: compiles each config into an `APISnapshot` and publishes it to every event
/// loop; makes the handler that serves each client connection. Other gates (AI, MCP) are
/// mounted on it: they share its listener, client handling and policy machinery, and are
/// asked first whether a request's path is theirs.
package final class APIGate: ReloadableGate {
    private let loops: LoopContexts
    private let perLoop: [APIGateLoop]
    private let generation = GenerationCounter()
    /// Limiter counters and keys outlive snapshots: a reload must not hand out fresh quota.
    private let core: CoreServices
    private let mounted: [any MountableGate]

    package init(loops: LoopContexts, config: GatewayConfig, core: CoreServices, mounts: [any MountableGate] = []) {
        self.loops = loops
        self.core = core
        self.mounted = mounts
        let first = APISnapshot(config: config, loopCount: loops.all.count, generation: 0, core: core)
        self.perLoop = loops.all.map { loop in
            APIGateLoop(loop: loop, snapshot: first, accessLog: core.accessLog, tracing: core.tracing, mounts: mounts.map { $0.mount(on: loop) })
        }
    }

    /// Compiles `config` for every gate (off the event loops) and swaps it in on every loop in
    /// one step: the routes and each mounted gate's part together. If any gate refuses the
    /// config, nothing changes anywhere. Requests already routed finish on what they started
    /// with. The future completes once every loop serves the new config.
    @discardableResult
    package func apply(_ config: GatewayConfig) -> EventLoopFuture<Void> {
        let prepared: [any PreparedGate]
        do {
            prepared = try mounted.map { try $0.prepare(config) }
        } catch {
            return loops.all[0].eventLoop.makeFailedFuture(error)
        }
        let snapshot = APISnapshot(config: config, loopCount: loops.all.count, generation: generation.increment(), core: core)
        for part in prepared { part.publish() }
        let futures = perLoop.map { state in
            state.loop.eventLoop.submit {
                state.snapshot = snapshot
                for part in prepared { part.install(on: state.loop) }
            }
        }
        return EventLoopFuture.andAllSucceed(futures, on: loops.all[0].eventLoop)
    }

    package func makeHandler(on loop: LoopContext, isHTTP2: Bool, connection: ConnectionInfo) -> ChannelHandler {
        ProxyHandler(gate: perLoop[loop.index], isHTTP2: isHTTP2, connection: connection)
    }
}

/// The API gate's state on one event loop: the snapshot its connections route on.
final class APIGateLoop: @unchecked Sendable {
    // @unchecked: `snapshot` is written and read only on `loop.eventLoop`.
    let loop: LoopContext
    var snapshot: APISnapshot
    let accessLog: AccessLog
    let tracing: Bool
    /// Gates asked before the routes whether a request is theirs.
    let mounts: [MountedGate]

    init(loop: LoopContext, snapshot: APISnapshot, accessLog: AccessLog, tracing: Bool, mounts: [MountedGate] = []) {
        self.loop = loop
        self.mounts = mounts
        self.snapshot = snapshot
        self.accessLog = accessLog
        self.tracing = tracing
    }
}

/// Counts applied configs; snapshots carry the number so logs can say which one served.
final class GenerationCounter: Sendable {
    private let box = NIOLockedValueBox(0)
    func increment() -> Int { box.withLockedValue { $0 += 1; return $0 } }
}
