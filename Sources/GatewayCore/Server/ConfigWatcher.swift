import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the config file when it changes (polled every `reload.interval`, when `reload.watch`
/// is on) and on SIGHUP, through the server's `reload`, until the gateway stops. A service of
/// its own, listed after the server: it stops first, so no reload starts while the server drains.
package final class ConfigWatcher: Service, Sendable {
    let server: GatewayServer
    let path: String
    let watch: Bool
    let interval: Duration
    /// The file as it was when the server read it: a change made before the first look (right
    /// after the gateway says it is ready, say) is not missed.
    private let loaded: FileFingerprint
    let logger: Logger

    package init(server: GatewayServer, path: String, logger: Logger) {
        let reload = server.state.config.reload
        self.server = server
        self.path = path
        self.watch = reload.watch
        self.interval = reload.interval
        self.loaded = server.loadedFingerprint ?? FileFingerprint(path: path)
        self.logger = logger
    }

    package func run() async {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { tasks in
                if self.watch { tasks.addTask { await self.poll() } }
                tasks.addTask { await self.reloadOnSIGHUP() }
            }
        }
    }

    private func poll() async {
        var last = loaded
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            let now = FileFingerprint(path: path)
            if now != last {
                last = now
                await server.reload(path: path)
            }
        }
    }

    private func reloadOnSIGHUP() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals {
            if Task.isCancelled { return }
            logger.info("SIGHUP: reloading config", metadata: ["config": "\(path)"])
            await server.reload(path: path)
        }
    }
}
