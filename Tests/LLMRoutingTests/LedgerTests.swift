import Foundation
import GatewayCore
import Testing

@testable import LLMRouting

@Suite struct LedgerTests {
    func withStore(_ body: (LedgerStore) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).db").path
        let store = try await LedgerStore.open(.sqlite(path: path))
        try await body(store)
        try await store.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    static let day = Int64(ProviderCatalog.day(fromISODate: "2025-11-07")!) * 86_400_000

    func row(_ i: Int, team: String?, model: String, provider: String, cost: Int64, tags: [(String, String)] = [], at offset: Int64 = 0) -> LedgerRow {
        LedgerRow(timeMillis: Self.day + offset, requestID: "r\(i)", consumer: "c\(i % 3)", team: team, tags: tags, model: model, provider: provider,
                  servedModel: model + "-x", attempts: 1, usage: TokenUsage(input: 10, cachedInput: 5, cacheWrite: 1, output: 7, reasoning: 2),
                  costMicros: cost, savedByCacheMicros: 3, status: 200, latencyMillis: 12, timeToFirstTokenMillis: 4)
    }

    @Test func rowsRoundTrip() async throws {
        try await withStore { store in
            let r = row(1, team: "growth", model: "smart", provider: "openai", cost: 1_234, tags: [("env", "prod"), ("project", "a,b")])
            try await store.insert([r])
            #expect(try await store.rows(from: Self.day, to: Self.day + 1) == [r])
            #expect(try await store.rows(from: Self.day + 1, to: Self.day + 2).isEmpty)  // half-open
        }
    }

    @Test func chargebackSumsExactlyPerGroup() async throws {
        try await withStore { store in
            var rows: [LedgerRow] = []
            for i in 0..<3000 {
                rows.append(row(i, team: i % 2 == 0 ? "growth" : "search", model: i % 3 == 0 ? "smart" : "cheap",
                                provider: i % 3 == 0 ? "openai" : "anthropic", cost: Int64(i * 7 + 1), tags: [("project", "p\(i % 4)")],
                                at: Int64(i) * 60_000))
            }
            try await store.insert(rows)
            let q = try ChargebackQuery(from: "2025-11-07", to: "2025-11-08", groupBy: "team,model")
            #expect(q.groupBy == [.team, .model, .provider])
            let report = try await store.chargeback(q)
            let inRange = rows.filter { $0.timeMillis < Self.day + 86_400_000 }
            #expect(report.lines.count == 4)
            #expect(report.totalCostMicros == inRange.reduce(0) { $0 + $1.costMicros })
            #expect(report.lines.reduce(0) { $0 + $1.requests } == Int64(inRange.count))
            let growthSmart = inRange.filter { $0.team == "growth" && $0.model == "smart" }
            let line = try #require(report.lines.first { $0.group == ["growth", "smart", "openai"] })
            #expect(line.costMicros == growthSmart.reduce(0) { $0 + $1.costMicros })
            #expect(line.inputTokens == Int64(growthSmart.count * 16) && line.cachedInputTokens == Int64(growthSmart.count * 5))
            let csv = report.csv
            #expect(csv.hasPrefix("team,model,provider,requests,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,cost_usd,saved_by_cache_usd\r\n"))
            #expect(csv.split(separator: "\r\n").count == 5)
            let byTag = try await store.chargeback(try ChargebackQuery(from: "2025-11-07", to: "2025-11-09", groupBy: "tag:project,day"))
            #expect(byTag.lines.map(\.group).prefix(2) == [["p0", "2025-11-07"], ["p0", "2025-11-08"]])
            #expect(byTag.totalCostMicros == rows.filter { $0.timeMillis < Self.day + 2 * 86_400_000 }.reduce(0) { $0 + $1.costMicros })
        }
    }

    /// Runs of one caller are summed before they are keyed; a key met again later in the batch,
    /// or in another hour, or with other tags, still lands in its own sum.
    @Test func rollupSumsRunsAndRepeats() {
        let a = row(0, team: "t", model: "smart", provider: "p", cost: 10)
        var b = a
        b.tags = [("project", "x")]
        var laterHour = a
        laterHour.timeMillis += 3_600_000
        let rows = [a, a, b, a, a, laterHour, a]
        let binds = LedgerStore.rollupValues(rows)
        // Per group: the hour, the 7 key fields, then requests and the 7 sums.
        #expect(binds.count == 3 * 16)
        var requestsByTags: [String: [Int64]] = [:]
        for g in stride(from: 0, to: binds.count, by: 16) {
            guard case .int(let hour) = binds[g], case .text(let tags) = binds[g + 4], case .int(let requests) = binds[g + 8],
                  case .int(let cost) = binds[g + 14] else { Issue.record("unexpected binds"); return }
            requestsByTags["\(hour == a.timeMillis - a.timeMillis % 3_600_000 ? "this" : "next") \(tags)", default: []] += [requests, cost]
        }
        #expect(requestsByTags == ["this {}": [5, 50], "this {\"project\":\"x\"}": [1, 10], "next {}": [1, 10]])
    }

    @Test func hourlySumsAnswerWholeHoursExactlyAsTheRowsDo() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).db").path
        var store = try await LedgerStore.open(.sqlite(path: path))
        var rows: [LedgerRow] = []
        for i in 0..<2000 {
            rows.append(row(i, team: i % 3 == 0 ? nil : "t\(i % 5)", model: i % 2 == 0 ? "smart" : "cheap", provider: "p\(i % 3)",
                            cost: Int64(i % 97 + 1), tags: i % 4 == 0 ? [] : [("project", "p\(i % 6)")], at: Int64(i) * 37_000))
        }
        // Inserts larger than one chunk of values (`rowsPerChunk`), and smaller.
        for chunk in stride(from: 0, to: rows.count, by: 1300) { try await store.insert(Array(rows[chunk..<min(chunk + 1300, rows.count)])) }
        #expect(try await store.rows(from: 0, to: .max) == rows)
        let day = ChargebackQuery.instant("2025-11-07")!
        for groups in ["team,model", "day,tag:project", "consumer,served_model", ""] {
            var whole = try ChargebackQuery(from: "2025-11-07", to: "2025-11-08", groupBy: groups)
            var raw = whole
            raw.from = day - 1  // not whole hours: read from the rows (nothing lies before the day)
            let a = try await store.chargeback(whole), b = try await store.chargeback(raw)
            #expect(a == b, "\(groups)")
            whole.to = day + 3_600_000  // one hour
            #expect(try await store.chargeback(whole).totalCostMicros
                == rows.filter { $0.timeMillis < day + 3_600_000 }.reduce(0) { $0 + $1.costMicros })
        }
        // A ledger written before the sums existed gets them built when opened.
        _ = try await store.db.query("DELETE FROM ledger_hourly")
        try await store.close()
        store = try await LedgerStore.open(.sqlite(path: path))
        let rebuilt = try await store.chargeback(try ChargebackQuery(from: "2025-11-07", to: "2025-11-09", groupBy: "team"))
        #expect(rebuilt.totalCostMicros == rows.reduce(0) { $0 + $1.costMicros })
        try await store.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    @Test func queriesAreCheckedAndCSVIsQuoted() throws {
        #expect(throws: ChargebackQuery.Invalid.self) { try ChargebackQuery(from: "2025-11-08", to: "2025-11-07", groupBy: "team") }
        #expect(throws: ChargebackQuery.Invalid.self) { try ChargebackQuery(from: "2025-11-07", to: "2025-11-08", groupBy: "colour") }
        #expect(throws: ChargebackQuery.Invalid.self) { try ChargebackQuery(from: "2025-11-07", to: "2025-11-08", groupBy: "tag:x'); DROP TABLE ledger;--") }
        #expect(try ChargebackQuery(from: "2025-11-07T01:00:00+01:00", to: "2025-11-08", groupBy: "").from == Self.day)
        #expect(try ChargebackQuery(from: "2025-11-07T00:00:00", to: "2025-11-08", groupBy: "").from == Self.day)  // no zone: UTC
        #expect(ChargebackReport.field("a,\"b\"") == "\"a,\"\"b\"\"\"")
        #expect(LedgerRow.tags(fromHeader: " project = search ,env=prod,bad,=x") .map { "\($0.0)=\($0.1)" } == ["env=prod", "project=search"])
    }
}
