import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// A gate whose routes come from the config and can be swapped while serving.
package protocol ReloadableGate: HTTPGate {
    /// Swaps in `config`; completes once every event loop serves it.
    func apply(_ config: GatewayConfig) -> EventLoopFuture<Void>
}

/// The addresses the gateway listens on, once bound (useful when port 0 was asked).
package struct BoundAddresses: Sendable {
    package var data: SocketAddress
    package var admin: SocketAddress?
}

/// The running gateway as one `Service`: binds the listeners, reloads the config when its file
/// changes or on SIGHUP, and on graceful shutdown stops accepting, lets in-flight requests
/// finish up to `shutdown_grace`, then returns.
package final class GatewayServer: Service, Sendable {
    package let state: GatewayState
    /// The gates' sections of the config and their own checks of them, read and run with every
    /// reload's validation.
    let configSections: [any ConfigSection.Type]
    let configChecks: [ConfigSectionCheck]
    let group: EventLoopGroup
    package let loops: LoopContexts
    let gate: any ReloadableGate
    package let core: CoreServices
    let logger: Logger
    let onBound: @Sendable (BoundAddresses) -> Void
    let adminEndpoints: [AdminEndpoint]
    /// The config file as it was when the server was made (just after it was read): the watch
    /// compares against this, so a change made before the watch's first look (right after the
    /// gateway says it is ready, say) is not missed.
    let loadedFingerprint: FileFingerprint?

    /// The server of `gate`, whose event loops (`loops`, of `group`) and core services (`core`)
    /// the caller made first, as it made the gates on them: the executable is the composition
    /// root, and builds everything in the order it runs.
    package init(
        config: GatewayConfig, configPath: String?, configSections: [any ConfigSection.Type] = [], configChecks: [ConfigSectionCheck] = [], group: EventLoopGroup, loops: LoopContexts,
        core: CoreServices, gate: any ReloadableGate, logger: Logger,
        adminEndpoints: [AdminEndpoint] = [],
        onBound: @escaping @Sendable (BoundAddresses) -> Void = { _ in }
    ) {
        self.adminEndpoints = adminEndpoints
        self.state = GatewayState(config: config)
        self.configSections = configSections
        self.configChecks = configChecks
        self.loadedFingerprint = configPath.map { FileFingerprint(path: $0) }
        self.group = group
        self.loops = loops
        self.core = core
        self.gate = gate
        self.logger = logger
        self.onBound = onBound
    }

    package func run() async throws {
        let config = state.config
        let data = try DataPlaneListener(server: config.server, group: group, loops: loops, gate: gate, metrics: core.metrics)
        let dataChannel = try await data.bind(group: group)
        var adminChannel: Channel?
        if config.admin.enabled {
            adminChannel = try await AdminListener(listen: config.admin.listen, state: state, metrics: core.metrics, endpoints: adminEndpoints,
                                              allowedHosts: config.admin.allowedHosts).bind(group: group)
        }
        state.markReady()
        Self.returnFreedMemory()
        logger.info("listening", metadata: [
            "data": "\(dataChannel.localAddress?.hostPort ?? "?")",
            "admin": "\(adminChannel?.localAddress?.hostPort ?? "off")",
        ])
        onBound(BoundAddresses(data: dataChannel.localAddress!, admin: adminChannel?.localAddress))

        var keyStore: KeyStore?
        if config.usesKeys, let location = config.storeLocation {
            keyStore = try await KeyStore.open(location)
            try await refreshKeys(from: keyStore!)
        }
        // Serves until the gateway stops; the key store is watched meanwhile.
        if let keyStore {
            await cancelWhenGracefulShutdown { await self.watchKeys(keyStore) }
        } else {
            try? await gracefulShutdown()
        }

        logger.info("shutting down: draining in-flight requests", metadata: ["grace": "\(ConfigDuration.format(config.server.shutdownGrace))"])
        let drained = data.quiesce(on: group.any())
        let grace = config.server.shutdownGrace
        let finished = await withTaskGroup(of: Bool.self) { race in
            race.addTask { (try? await drained.get()) != nil }
            race.addTask { try? await Task.sleep(for: grace); return false }
            let first = await race.next() ?? false
            race.cancelAll()
            return first
        }
        if !finished { logger.warning("shutdown grace elapsed; closing remaining connections") }
        core.accessLog.flush()
        try? await adminChannel?.close()
        try? await keyStore?.close()
        for loop in loops.all { try? await loop.eventLoop.submit { loop.shutdownPools() }.get() }
    }

    /// Loads the file again and applies it if valid; keeps the current config otherwise.
    @discardableResult
    package func reload(path: String) async -> Bool {
        do {
            var config = try GatewayConfig.load(path: path, sections: configSections, checks: configChecks)
            let old = state.config
            if config.server.listen != old.server.listen || config.admin.listen != old.admin.listen || config.server.tls != old.server.tls || config.server.eventLoops != old.server.eventLoops {
                logger.warning("listener settings changed in the config; they apply after a restart", metadata: ["config": "\(path)"])
            }
            // Bound listeners stay as they are (and as the command line may have set them).
            config.server.listen = old.server.listen
            config.admin.listen = old.admin.listen
            config.server.tls = old.server.tls
            config.server.eventLoops = old.server.eventLoops
            try await gate.apply(config).get()
            state.applied(config)
            Self.returnFreedMemory()
            core.metrics.reloaded(applied: true)
            logger.info("config reloaded", metadata: ["config": "\(path)", "services": "\(config.services.count)"])
            return true
        } catch let problems as ConfigProblems {
            state.rejected(problems.description)
            core.metrics.reloaded(applied: false)
            logger.error("config reload refused; the previous config keeps serving", metadata: [
                "config": "\(path)", "problems": .array(problems.problems.map { .string($0.description) }),
            ])
            return false
        } catch {
            state.rejected("\(error)")
            logger.error("config reload failed; the previous config keeps serving", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Gives the memory freed by reading a config (the YAML tree, the previous snapshot) back to
    /// the system. glibc keeps freed blocks in the arena of the thread that freed them, and a
    /// reload runs on another thread than start-up: without this, each of 10,000 routes' reloads
    /// left ~20 MiB resident that the data plane never reuses.
    static func returnFreedMemory() {
        #if canImport(Glibc)
        _ = mallocTrim?(0)
        #endif
    }

    #if canImport(Glibc)
    /// glibc's `malloc_trim`, which the Glibc module does not export (malloc.h is not in it).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
    #endif

    private func refreshKeys(from store: KeyStore) async throws {
        let entries = try await store.activeEntries()
        core.keys.replace(with: entries)
    }

    /// Reloads the key index when the store changes; polled every 250 ms so a revoked key is
    /// refused within a second by every gateway that shares the store.
    private func watchKeys(_ store: KeyStore) async {
        var version = (try? await store.changeToken()) ?? ""
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            guard let now = try? await store.changeToken() else { continue }
            if now != version {
                version = now
                do {
                    try await refreshKeys(from: store)
                    logger.info("api keys reloaded", metadata: ["keys": "\(core.keys.count)"])
                } catch {
                    logger.error("api keys could not be reloaded; the previous set stays", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// What identifies a version of a file without reading it: modification time, size and inode
/// (editors that save by rename change the inode). The content hash catches same-second edits
/// of the same size.
struct FileFingerprint: Equatable {
    var modified: Date?
    var size: Int?
    var inode: Int?
    var contentHash: Int?

    init(path: String) {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        modified = attributes?[.modificationDate] as? Date
        size = (attributes?[.size] as? NSNumber)?.intValue
        inode = (attributes?[.systemFileNumber] as? NSNumber)?.intValue
        contentHash = (try? Data(contentsOf: URL(fileURLWithPath: path))).map { $0.hashValue }
    }
}

extension SocketAddress {
    /// `host:port`, IPv6 bracketed.
    package var hostPort: String {
        let ip = ipAddress ?? "?"
        return ip.contains(":") ? "[\(ip)]:\(port ?? 0)" : "\(ip):\(port ?? 0)"
    }
}
