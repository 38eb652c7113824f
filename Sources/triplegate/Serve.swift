import ArgumentParser
import Foundation
import Gateway
import GatewayCore
import LLMRouting
import MCPGate
import Logging
import Metrics
import Prometheus
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `triplegate serve [--config FILE]`: runs the gateway until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway (the built-in quick-start config when no file is given).")

    @Option(name: .shortAndLong, help: "The config file; watched and reloaded on change or SIGHUP.")
    var config: String?

    @Option(help: "Write the bound addresses as JSON to this file once listening (for scripts and tests).")
    var readyFile: String?

    @Option(help: "Override server.listen (host:port; port 0 picks a free one).")
    var listen: String?

    @Option(help: "Override admin.listen (host:port; port 0 picks a free one).")
    var adminListen: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = JSONLogHandler(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "triplegate")
        var gatewayConfig: GatewayConfig
        var catalog: ProviderCatalog?
        do {
            if let config {
                gatewayConfig = try GatewayConfig.load(path: config, sections: ConfigSections.all, checks: ConfigSections.checks)
            } else {
                gatewayConfig = try GatewayConfig.parse(yaml: QuickStart.yaml, source: "built-in quick-start config", sections: ConfigSections.all)
            }
            if let llm = gatewayConfig.llm { catalog = try DeploymentCheck.catalog(for: llm, in: gatewayConfig, configFile: config) }
            if let listen { gatewayConfig.server.listen = listen }
            if let adminListen { gatewayConfig.admin.listen = adminListen }
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        let threads = gatewayConfig.server.eventLoops > 0 ? gatewayConfig.server.eventLoops : System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let readyFile = self.readyFile
        // Every LLM call leaves a ledger row in the config's store (written off the request path).
        let ledger: LedgerWriter?
        // Chargeback reports at the admin listener read through a connection of their own.
        var reports: LedgerStore?
        // Limits and budgets start from what the ledger already holds for their windows.
        let spend = SpendCounters()
        if let llm = gatewayConfig.llm, llm.ledger, let location = gatewayConfig.storeLocation {
            do {
                let store = try await LedgerStore.open(location)
                reports = try await LedgerStore.open(location)
                if llm.counters == .local {
                    try await spend.seed(from: store, limits: llm.limits, budgets: llm.budgets, now: Int64(Date().timeIntervalSince1970 * 1000))
                } else {
                    // Redis holds them; should it lose them, they are rebuilt from this ledger.
                    spend.useLedgerForRebuild(reports!)
                }
                ledger = LedgerWriter(store: store)
            } catch {
                logger.error("the ledger store could not be opened", metadata: ["store": "\(location)", "error": "\(error)"])
                throw ExitCode(1)
            }
        } else {
            ledger = nil
        }
        var tracer: (any Service)?
        if let traces = gatewayConfig.telemetry.traces {
            do {
                tracer = try RequestTracing.bootstrap(traces)
            } catch {
                logger.error("traces are configured but their exporter could not start", metadata: ["error": "\(error)"])
                throw ExitCode(1)
            }
        }
        // MCP tool calls are audited, and tool definitions pinned, in the same store.
        var audit: AuditLog?
        var pins = ToolPins.inMemory()
        // The names agents see stay with their tools across restarts (ToolNameBook).
        var toolNames = ToolNameBook.inMemory()
        if gatewayConfig.mcp != nil, let location = gatewayConfig.storeLocation {
            do {
                let mcp = gatewayConfig.mcp!
                if mcp.audit { audit = try await AuditLog.open(location) }
                let db = try await openDatabase(location, logger: logger)
                if mcp.pinning != .off { pins = try await ToolPins.open(db) }
                toolNames = try await ToolNameBook.open(db)
            } catch {
                logger.error("the MCP store could not be opened", metadata: ["store": "\(location)", "error": "\(error)"])
                throw ExitCode(1)
            }
        }
        // The core, then the gates on it, then the server that hosts them: built in the order
        // they run, each handed what it uses.
        let loops = LoopContexts(group: group)
        let core = CoreServices(accessLog: gatewayConfig.telemetry.accessLog, redis: gatewayConfig.redis, tracing: tracer != nil, logger: logger)
        let ai = AIGate(config: gatewayConfig, catalog: catalog, configFile: config, core: core, ledger: ledger, spend: spend,
                        answers: gatewayConfig.llm?.cache.flatMap { CacheKeeper.load($0) })
        let mcp = MCPGate(config: gatewayConfig, loops: loops, core: core, audit: audit, pins: pins, names: toolNames)
        let api = APIGate(loops: loops, config: gatewayConfig, core: core, mounts: [ai, mcp])
        let keeper = gatewayConfig.llm?.cache.map { CacheKeeper(gate: ai, snapshotDir: $0.snapshotDir) }
        let server = GatewayServer(
            config: gatewayConfig, configPath: config, configSections: ConfigSections.all, configChecks: ConfigSections.checks, group: group, loops: loops, core: core,
            gate: api, logger: logger,
            adminEndpoints: (reports.map { [ChargebackEndpoint.make(store: $0)] } ?? []) + (keeper != nil ? [CacheEndpoint.make(gate: ai)] : [])
                + (gatewayConfig.mcp != nil ? ToolPinsEndpoint.make(gate: mcp) : []),
            onBound: { addresses in
                guard let readyFile else { return }
                let json = JSONValue.object([
                    ("data", .string(addresses.data.hostPort)),
                    ("admin", addresses.admin.map { .string($0.hostPort) } ?? .null),
                    ("pid", .int(Int(ProcessInfo.processInfo.processIdentifier))),
                ])
                try? json.text.write(toFile: readyFile, atomically: true, encoding: .utf8)
            })
        // Anything that reports through swift-metrics lands in the same registry as ours.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: server.core.metrics.registry))
        // Services stop in reverse order: the config watcher first (no reload while draining),
        // then the gateway drains, the access log writes the last lines, the MCP gate stops its
        // upstreams, the ledger writes the rows of the last calls, the cache is saved, and the
        // trace exporter flushes the final spans.
        var running: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let tracer { running.append(.init(service: tracer)) }
        if let ledger { running.append(.init(service: ledger)) }
        if let keeper { running.append(.init(service: keeper)) }
        if let audit { running.append(.init(service: audit)) }
        running.append(.init(service: mcp))
        running.append(.init(service: core.accessLog))
        running.append(.init(service: server))
        if let config { running.append(.init(service: ConfigWatcher(server: server, path: config, logger: logger))) }
        let services = ServiceGroup(configuration: .init(
            services: running,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await services.run()
        } catch {
            logger.error("gateway stopped", metadata: ["error": "\(error)"])
            try? await reports?.close()
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        try? await reports?.close()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }
}
