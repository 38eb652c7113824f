import ArgumentParser

/// The benchmarks' helpers (bench/), built beside the gateway but never shipped in it: a fast
/// MCP upstream, the ledger's insert rate, the vector index's queries.
@main
struct TriplegateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triplegate-bench",
        abstract: "Helpers for the benchmarks in bench/.",
        subcommands: [MCPUpstream.self, Ledger.self, Vector.self])
}
