import Synchronization

/// `triplegate_limiter_decisions_total` for one route: allowed and refused counts. Outside the
/// swift-prometheus registry for the reason RouteMetrics.swift gives (a `rate_limit` on a
/// service of 10,000 routes registered 20,000 counters in one family, each registration a copy
/// of the family).
package final class LimiterDecisions: Sendable {
    /// `route="…"`, escaped for the text format.
    let labels: [UInt8]
    private let allowedCount = Atomic<Int>(0)
    private let refusedCount = Atomic<Int>(0)

    init(route: String) {
        var labels: [UInt8] = []
        labels.appendLabel("route", route)
        self.labels = labels
    }

    package func allowed() { allowedCount.add(1, ordering: .relaxed) }
    package func refused() { refusedCount.add(1, ordering: .relaxed) }

    var counts: (allowed: Int, refused: Int) { (allowedCount.load(ordering: .relaxed), refusedCount.load(ordering: .relaxed)) }
}

/// Every route's limiter counters, by route name; registration is O(1), and the same name gets
/// the same counters back, so counts carry across reloads.
final class LimiterDecisionsFamily: Sendable {
    private let routes = Mutex<(index: [String: LimiterDecisions], ordered: [LimiterDecisions])>(([:], []))

    func decisions(route: String) -> LimiterDecisions {
        routes.withLock { routes in
            if let known = routes.index[route] { return known }
            let made = LimiterDecisions(route: route)
            routes.index[route] = made
            routes.ordered.append(made)
            return made
        }
    }

    func emit(into buffer: inout [UInt8]) {
        let all = routes.withLock { $0.ordered }
        guard !all.isEmpty else { return }
        let name = "triplegate_limiter_decisions_total"
        buffer.append(contentsOf: "# HELP \(name) Rate-limit decisions\n# TYPE \(name) counter\n".utf8)
        for route in all {
            let counts = route.counts
            for (decision, count) in [("allowed", counts.allowed), ("refused", counts.refused)] {
                buffer.append(contentsOf: name.utf8)
                buffer.append(UInt8(ascii: "{"))
                buffer.append(contentsOf: route.labels)
                buffer.append(contentsOf: ",decision=\"\(decision)\"} \(count)\n".utf8)
            }
        }
    }
}
