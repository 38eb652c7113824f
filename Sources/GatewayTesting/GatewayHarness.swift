import Gateway
import GatewayCore
import Logging
import NIOCore
import NIOPosix

/// Runs the API gate in-process on 127.0.0.1 with an ephemeral port, for live tests. The
/// harness waits for the listener to be bound (no sleeps) and reports its address.
package final class GatewayHarness: Sendable {
    package let group: MultiThreadedEventLoopGroup
    package let server: GatewayServer
    package let dataAddress: SocketAddress
    private let task: Task<Void, Error>

    /// `yaml` is a full config, read with the gates' `sections`; its listen addresses are
    /// replaced with 127.0.0.1:0. `mounts` makes the gates mounted beside the API gate (the AI
    /// gate, for its live tests).
    package static func start(yaml: String, eventLoops: Int = 2, sections: [any ConfigSection.Type] = [],
                             mounts: @escaping (GatewayConfig, CoreServices) throws -> [any MountableGate] = { _, _ in [] }) async throws -> GatewayHarness {
        var config = try GatewayConfig.parse(yaml: yaml, environment: [:], sections: sections)
        config.server.listen = "127.0.0.1:0"
        config.admin.enabled = false
        let group = MultiThreadedEventLoopGroup(numberOfThreads: eventLoops)
        let (stream, continuation) = AsyncStream<BoundAddresses>.makeStream()
        let logger = Logger(label: "triplegate.test")
        let loops = LoopContexts(group: group)
        let core = CoreServices(accessLog: config.telemetry.accessLog, redis: config.redis, logger: logger)
        let made: [any MountableGate]
        do {
            made = try mounts(config, core)
        } catch {
            try await group.shutdownGracefully()
            throw error
        }
        let server = GatewayServer(
            config: config, configPath: nil, group: group, loops: loops, core: core,
            gate: APIGate(loops: loops, config: config, core: core, mounts: made), logger: logger,
            onBound: { continuation.yield($0); continuation.finish() })
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await core.accessLog.run() }
                group.addTask { try await server.run() }
                try await group.next()
                group.cancelAll()
            }
        }
        var iterator = stream.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw HarnessError.didNotStart }
        return GatewayHarness(group: group, server: server, dataAddress: bound.data, task: task)
    }

    private init(group: MultiThreadedEventLoopGroup, server: GatewayServer, dataAddress: SocketAddress, task: Task<Void, Error>) {
        self.group = group
        self.server = server
        self.dataAddress = dataAddress
        self.task = task
    }

    package var port: Int { dataAddress.port ?? 0 }

    package func stop() async throws {
        task.cancel()
        _ = try? await task.value
        try await group.shutdownGracefully()
    }
}

package enum HarnessError: Error {
    case didNotStart
    case timedOut(String)
}

/// Waits for `condition` to hold, polling every few milliseconds up to `deadline`: the way
/// tests wait for something, instead of sleeping a fixed time.
package func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while clock.now < end {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw HarnessError.timedOut(what)
}
