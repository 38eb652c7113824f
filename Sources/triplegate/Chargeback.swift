import ArgumentParser
import Foundation
import GatewayCore
import LLMRouting

/// `triplegate chargeback --from 2026-11-01 --to 2026-12-01 --group-by team,model --format csv`:
/// who spent what, from the ledger in the config's store.
struct Chargeback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report LLM spend from the ledger, grouped (CSV per RFC 4180, or JSON).")

    @OptionGroup var store: Keys.StoreOptions

    @Option(help: "Start of the range, included: YYYY-MM-DD (UTC) or an ISO 8601 time.") var from: String
    @Option(help: "End of the range, excluded.") var to: String
    @Option(help: "Comma-separated: team, consumer, key, model, provider, served_model, day, tag:NAME.") var groupBy: String = "team,model"
    @Option(help: "csv or json.") var format: String = "csv"

    func run() async throws {
        guard format == "csv" || format == "json" else { throw ValidationError("--format must be csv or json") }
        let query: ChargebackQuery
        do { query = try ChargebackQuery(from: from, to: to, groupBy: groupBy) } catch { throw ValidationError(error.description) }
        let ledger = try await LedgerStore.open(try store.load().location)
        let report = try await ledger.chargeback(query)
        try await ledger.close()
        print(format == "csv" ? report.csv : report.json.text, terminator: format == "csv" ? "" : "\n")
    }
}
