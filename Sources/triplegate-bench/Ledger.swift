import ArgumentParser
import Foundation
import GatewayCore
import LLMRouting

/// `triplegate-bench ledger --rows N --store sqlite:PATH|postgres://...`: how many ledger rows
/// per second the store takes in the writer's batches (for bench/llm).
struct Ledger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Measure ledger insert throughput.")

    @Option var rows = 200_000
    @Option var batch = 1_000
    @Option var store: String
    @Flag(help: "Every row from one caller and model, untagged, as in bench/llm's metered case (the default varies them).")
    var uniform = false

    func run() async throws {
        guard let location = StoreLocation(store) else { throw ValidationError("--store must be sqlite:PATH or postgres://...") }
        let ledger = try await LedgerStore.open(location)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var rows = (0..<batch).map { i in
            uniform
                ? LedgerRow(timeMillis: now + Int64(i), requestID: UUID().uuidString, consumer: "bench-client", team: "perf", keyID: "k1", model: "fast",
                            provider: "bench-openai", servedModel: "gpt-4o", attempts: 1, usage: TokenUsage(input: 12, output: 20), costMicros: 230,
                            status: 200, latencyMillis: 0)
                : LedgerRow(timeMillis: now + Int64(i), requestID: "bench-\(i)", consumer: "c\(i % 50)", team: "t\(i % 7)", tags: [("project", "p\(i % 5)")],
                      model: "smart", provider: "openai", servedModel: "gpt-4o", attempts: 1,
                      usage: TokenUsage(input: 900, cachedInput: 100, output: 300), costMicros: 4_250, status: 200, latencyMillis: 420)
        }
        let clock = ContinuousClock()
        let started = clock.now
        for n in 0..<(self.rows / batch) {
            // Later batches are later calls, as in a running gateway: the time index grows at its end.
            for i in rows.indices { rows[i].timeMillis = now + Int64(n * batch + i) }
            try await ledger.insert(rows)
        }
        let seconds = (clock.now - started) / .seconds(1)
        try await ledger.close()
        let kind = if case .postgres = location { "postgres" } else { "sqlite" }
        print("\(kind) ledger: \(self.rows) rows in batches of \(batch): \(Int(Double(self.rows) / seconds)) rows/s")
    }
}
