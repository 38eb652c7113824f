import GatewayCore

/// `GET /admin/chargeback?from=...&to=...&group_by=team,model&format=csv|json` on the admin
/// listener: the same report as `triplegate chargeback`, from the same store (through a
/// connection of its own, so a report never waits behind the ledger writer). Rows reach the
/// store within the writer's 50 ms batch.
package enum ChargebackEndpoint {
    package static func make(store: LedgerStore) -> AdminEndpoint {
        AdminEndpoint(path: "/admin/chargeback") { query in
            func problem(_ status: Int, _ title: String) -> AdminEndpoint.Response {
                let p = JSONValue.object([("type", .string("about:blank")), ("title", .string(title)), ("status", .int(status))])
                return .init(status: .init(statusCode: status), contentType: "application/problem+json", body: p.text)
            }
            let format = query["format"] ?? "csv"
            guard format == "csv" || format == "json" else { return problem(400, "format must be csv or json") }
            guard let from = query["from"], let to = query["to"] else { return problem(400, "from and to are required (YYYY-MM-DD or ISO 8601)") }
            let q: ChargebackQuery
            do { q = try ChargebackQuery(from: from, to: to, groupBy: query["group_by"] ?? "team,model") } catch { return problem(400, "\(error)") }
            do {
                let report = try await store.chargeback(q)
                return format == "csv"
                    ? .init(status: .ok, contentType: "text/csv; charset=utf-8; header=present", body: report.csv)
                    : .init(status: .ok, contentType: "application/json", body: report.json.text)
            } catch {
                return problem(500, "the ledger could not be read")
            }
        }
    }
}
