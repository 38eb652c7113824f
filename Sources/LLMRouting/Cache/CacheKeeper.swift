import Foundation
import GatewayCore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import SemanticCache

/// Looks after the answer cache off the request path: drops expired entries and updates the
/// size gauges every 10 s, and on a graceful stop saves the cache to `snapshot_dir` (loaded
/// again at start by `load`).
public final class CacheKeeper: Service, Sendable {
    private let gate: NIOLockedValueBox<AIGate?>
    private let snapshotDir: String?
    private let logger: Logger

    /// `gate` is filled once the gate exists (the server builds it).
    public init(gate: NIOLockedValueBox<AIGate?>, snapshotDir: String?, logger: Logger = Logger(label: "triplegate.cache")) {
        self.gate = gate
        self.snapshotDir = snapshotDir
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // A stop wakes it at once: the snapshot is written without waiting out the period.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(10)) }
            tidy()
        }
        guard let snapshotDir, let cache = gate.withLockedValue({ $0 })?.answerCache else { return }
        do {
            try cache.save(to: snapshotDir)
            logger.info("answer cache saved", metadata: ["entries": "\(cache.count)", "dir": "\(snapshotDir)"])
        } catch {
            logger.error("answer cache could not be saved", metadata: ["dir": "\(snapshotDir)", "error": "\(error)"])
        }
    }

    func tidy() {
        guard let g = gate.withLockedValue({ $0 }), let cache = g.answerCache else { return }
        cache.expire(now: Int64(Date().timeIntervalSince1970 * 1000))
        g.cacheMetrics.update(cache)
    }

    /// The cache saved in `dir`, if there is one and it reads; else nil (and a log line).
    public static func load(_ config: LLMCacheConfig, logger: Logger = Logger(label: "triplegate.cache")) -> AnswerCache? {
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

/// `DELETE /admin/cache?team=...&model=...` (or `consumer=...`): drops cached answers of a team
/// (or a consumer) and/or a model (all absent: everything). Answers `{"purged": N}`.
public enum CacheEndpoint {
    public static func make(gate: NIOLockedValueBox<AIGate?>) -> AdminEndpoint {
        AdminEndpoint(path: "/admin/cache", method: .DELETE) { query in
            guard let cache = gate.withLockedValue({ $0 })?.answerCache else {
                let p = JSONValue.object([("type", .string("about:blank")), ("title", .string("the answer cache is off (llm.cache)")), ("status", .int(404))])
                return .init(status: .notFound, contentType: "application/problem+json", body: p.text)
            }
            // Tenants are kept as `team:NAME` and `consumer:NAME` (CacheRequest).
            let tenant = query["team"].map { "team:" + $0 } ?? query["consumer"].map { "consumer:" + $0 }
            let n = cache.purge(tenant: tenant, model: query["model"])
            return .init(status: .ok, contentType: "application/json", body: JSONValue.object([("purged", .int(n))]).text)
        }
    }
}
