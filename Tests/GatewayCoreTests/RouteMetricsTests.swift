@testable import GatewayCore
import Prometheus
import Testing

/// The per-route instruments live outside swift-prometheus's registry (registering there was
/// O(n²) in routes); their text must still be what that registry would have written.
@Suite struct RouteMetricsTests {
    /// Lines of `text` that belong to metric `name` (its samples, not HELP/TYPE), sorted.
    func samples(_ text: [UInt8], _ name: String) -> [String] {
        String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init).filter { $0.hasPrefix(name) }.sorted()
    }

    @Test func sameTextAsSwiftPrometheus() {
        let ours = GatewayMetrics()
        let reference = PrometheusCollectorRegistry()
        let nanos: [Int64] = [0, 1, 499_999, 500_000, 500_001, 2_000_000, 999_999_999, 60_000_000_000, 60_000_000_001, 3_600_000_000_000]
        for (service, route) in [("orders", "list"), ("we\"ird\\", "line\nbreak")] {
            let route = ours.route(service: service, route: route)
            for (i, n) in nanos.enumerated() { route.record(status: [200, 404, 503, 101, 302][i % 5], totalNanos: n, upstreamNanos: n / 2) }
        }
        for (service, route) in [("orders", "list"), ("we\"ird\\", "line\nbreak")] {
            for (i, n) in nanos.enumerated() {
                let cls = ["2xx", "4xx", "5xx", "1xx", "3xx"][i % 5]
                reference.makeDurationHistogram(
                    descriptor: .init(metricName: "http_server_request_duration", unitName: "seconds", helpText: "Time from request head to response end"),
                    labels: [("service", service), ("http_route", route), ("status_class", cls)], buckets: GatewayMetrics.buckets
                ).recordNanoseconds(n)
                reference.makeDurationHistogram(
                    descriptor: .init(metricName: "triplegate_upstream_duration", unitName: "seconds", helpText: "Time from an attempt's start to the upstream's response head"),
                    labels: [("service", service), ("http_route", route)], buckets: GatewayMetrics.buckets
                ).recordNanoseconds(n / 2)
            }
        }
        let text = ours.exposition()
        let expected = reference.emitToBuffer()
        for name in ["http_server_request_duration_seconds", "triplegate_upstream_duration_seconds"] {
            #expect(samples(text, name) == samples(expected, name))
            #expect(samples(text, name).count == 2 * (name.hasPrefix("http") ? 5 : 1) * 19)
            #expect(samples(text, "# TYPE \(name)") == samples(expected, "# TYPE \(name)"))
            #expect(samples(text, "# HELP \(name)") == samples(expected, "# HELP \(name)"))
        }
    }

    /// The same names give the same instruments back (counts carry across reloads); a route that
    /// never answered has no series.
    @Test func registeredOnceMadeOnFirstRecord() {
        let metrics = GatewayMetrics()
        let a = metrics.route(service: "s", route: "r")
        #expect(metrics.route(service: "s", route: "r") === a)
        #expect(metrics.route(service: "s", route: "other") !== a)
        #expect(metrics.route(service: "t", route: "r") !== a)
        #expect(samples(metrics.exposition(), "http_server_request_duration_seconds").isEmpty)
        a.record(status: 200, totalNanos: 1_000, upstreamNanos: nil)
        metrics.route(service: "s", route: "r").record(status: 200, totalNanos: 1_000, upstreamNanos: nil)
        let text = metrics.exposition()
        #expect(samples(text, "http_server_request_duration_seconds_count") == [#"http_server_request_duration_seconds_count{service="s",http_route="r",status_class="2xx"} 2"#])
        #expect(samples(text, "triplegate_upstream_duration_seconds").isEmpty)
        #expect(samples(text, #"http_server_request_duration_seconds_bucket{service="s",http_route="r",status_class="2xx",le="0.0005"}"#) ==
            [#"http_server_request_duration_seconds_bucket{service="s",http_route="r",status_class="2xx",le="0.0005"} 2"#])
    }

    /// Two threads racing to make a route's first series keep one of them: no record is lost.
    @Test func concurrentFirstRecords() async {
        let metrics = GatewayMetrics()
        let route = metrics.route(service: "s", route: "r")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { for _ in 0..<10_000 { route.record(status: 500, totalNanos: 42, upstreamNanos: 7) } }
            }
        }
        let text = metrics.exposition()
        #expect(samples(text, "http_server_request_duration_seconds_count") == [#"http_server_request_duration_seconds_count{service="s",http_route="r",status_class="5xx"} 40000"#])
        #expect(samples(text, "triplegate_upstream_duration_seconds_count") == [#"triplegate_upstream_duration_seconds_count{service="s",http_route="r"} 40000"#])
    }

    @Test func limiterDecisions() {
        let metrics = GatewayMetrics()
        #expect(samples(metrics.exposition(), "triplegate_limiter_decisions_total").isEmpty)
        let items = metrics.limiter(route: "items")
        #expect(metrics.limiter(route: "items") === items)
        items.allowed()
        items.allowed()
        items.refused()
        metrics.limiter(route: "a\"b").refused()
        #expect(samples(metrics.exposition(), "triplegate_limiter_decisions_total") == [
            #"triplegate_limiter_decisions_total{route="a\"b",decision="allowed"} 0"#,
            #"triplegate_limiter_decisions_total{route="a\"b",decision="refused"} 1"#,
            #"triplegate_limiter_decisions_total{route="items",decision="allowed"} 2"#,
            #"triplegate_limiter_decisions_total{route="items",decision="refused"} 1"#,
        ])
    }
}
