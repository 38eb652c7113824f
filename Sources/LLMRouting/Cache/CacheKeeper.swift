import Foundation
import GatewayCore
import Logging
import ServiceLifecycle
import SemanticCache

/// Looks after the answer cache off the request path: drops expired entries and updates the
/// size gauges every 10 s, and on a graceful stop saves the cache to `snapshot_dir` (loaded
/// again at start by `load`).
package final class CacheKeeper: Service, Sendable {
    private let gate: AIGate
    private let snapshotDir: String?
    private let logger: Logger

    package init(gate: AIGate, snapshotDir: String?, logger: Logger = Logger(label: "triplegate.cache")) {
        self.gate = gate
        self.snapshotDir = snapshotDir
        self.logger = logger
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // A stop wakes it at once: the snapshot is written without waiting out the period.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(10)) }
            tidy()
        }
        guard let snapshotDir, let cache = gate.answerCache else { return }
        do {
            try cache.save(to: snapshotDir)
            logger.info("answer cache saved", metadata: ["entries": "\(cache.count)", "dir": "\(snapshotDir)"])
        } catch {
            logger.error("answer cache could not be saved", metadata: ["dir": "\(snapshotDir)", "error": "\(error)"])
        }
    }

    func tidy() {
        guard let cache = gate.answerCache else { return }
        cache.expire(now: Int64(Date().timeIntervalSince1970 * 1000))
        gate.cacheMetrics.update(cache)
    }

    /// The cache saved in `dir`, if there is one and it reads; else nil (and a log line).
    package static func load(_ config: LLMCacheConfig, logger: Logger = Logger(label: "triplegate.cache")) -> AnswerCache? {
        guard let dir = config.snapshotDir, FileManager.default.fileExists(atPath: dir + "/entries.json") else { return nil }
        do {
            let cache = try AnswerCache.load(from: dir, options: AnswerCache.Options(config), now: Int64(Date().timeIntervalSince1970 * 1000))
            logger.info("answer cache loaded", metadata: ["entries": "\(cache.count)", "dir": "\(dir)"])
            return cache
        } catch {
            logger.error("answer cache snapshot unreadable; starting empty", metadata: ["dir": "\(dir)", "error": "\(error)"])
            return nil
        }
    }
}
