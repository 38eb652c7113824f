import Prometheus
import Synchronization

/// Per-route instruments: request durations by status class (the histogram's count is the
/// request count, as OpenTelemetry's `http.server.request.duration`) and upstream durations.
///
/// Not swift-prometheus instruments, for two measured reasons. Its registry copies a metric
/// family's whole dictionary on every registration, so a config of n routes (six series each)
/// cost O(n²) to publish: 10,000 routes took 57 s before the first answer, ~95% of it in those
/// copies. And every series was made up front: ~1 KiB each, 60 MiB at 10,000 routes, most of
/// them never recorded. Here a route's label set is registered once in a dictionary mutated in
/// place (`RouteMetricsFamily`), and each of its six series is made on its first record.
package final class RouteMetrics: Sendable {
    /// `service="…",http_route="…"`, escaped for the text format.
    let labels: [UInt8]
    /// The request-duration series by status class (1xx … 5xx), then the upstream series.
    private let series: InlineArray<6, AtomicLazyReference<LatencySeries>>

    init(service: String, route: String) {
        var labels: [UInt8] = []
        labels.appendLabel("service", service)
        labels.append(UInt8(ascii: ","))
        labels.appendLabel("http_route", route)
        self.labels = labels
        series = InlineArray { _ in AtomicLazyReference() }
    }

    package func record(status: Int, totalNanos: Int64, upstreamNanos: Int64?) {
        let cls = min(max(status / 100, 1), 5) - 1
        self[cls].record(nanos: totalNanos)
        if let upstreamNanos { self[5].record(nanos: upstreamNanos) }
    }

    /// The series at `index`, made on first use (two loops racing keep the first one stored).
    private subscript(index: Int) -> LatencySeries {
        if let made = series[index].load() { return made }
        return series[index].storeIfNil(LatencySeries())
    }

    /// The series at `index` if it was ever recorded.
    func recorded(_ index: Int) -> LatencySeries? { series[index].load() }
}

/// One duration histogram: a count per bucket (not cumulative: a record touches one bucket;
/// they are summed when emitted) and the sum in nanoseconds, each an atomic. Buckets are
/// `GatewayMetrics.buckets` and a last one for +Inf.
final class LatencySeries: Sendable {
    static let bounds: [Int64] = GatewayMetrics.buckets.map { Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000 }
    static let labels: [[UInt8]] = GatewayMetrics.buckets.map { Array($0.bucketRepresentation.utf8) } + [Array("+Inf".utf8)]

    private let counts: InlineArray<17, Atomic<Int>>
    private let sumNanos = Atomic<Int>(0)

    init() {
        precondition(Self.bounds.count == 16, "LatencySeries holds 16 buckets and +Inf")
        counts = InlineArray { _ in Atomic(0) }
    }

    func record(nanos: Int64) {
        var i = 0
        let bounds = Self.bounds
        while i < bounds.count, bounds[i] < nanos { i += 1 }
        counts[i].add(1, ordering: .relaxed)
        sumNanos.add(Int(nanos), ordering: .relaxed)
    }

    /// The text-format lines of this series: `_bucket` (cumulative, with `le`), `_sum`, `_count`.
    func emit(name: String, labels: [UInt8], into buffer: inout [UInt8]) {
        var cumulative = 0
        for i in 0..<17 {
            cumulative += counts[i].load(ordering: .relaxed)
            buffer.append(contentsOf: name.utf8)
            buffer.append(contentsOf: "_bucket{".utf8)
            buffer.append(contentsOf: labels)
            buffer.append(contentsOf: ",le=\"".utf8)
            buffer.append(contentsOf: Self.labels[i])
            buffer.append(contentsOf: "\"} \(cumulative)\n".utf8)
        }
        let sum = Duration.nanoseconds(sumNanos.load(ordering: .relaxed)).bucketRepresentation
        for (suffix, value) in [("_sum", sum), ("_count", "\(cumulative)")] {
            buffer.append(contentsOf: name.utf8)
            buffer.append(contentsOf: suffix.utf8)
            buffer.append(UInt8(ascii: "{"))
            buffer.append(contentsOf: labels)
            buffer.append(contentsOf: "} \(value)\n".utf8)
        }
    }
}

/// Every route's instruments, by service and route name: the same names get the same
/// instruments back, so counts carry across reloads. Registration is O(1) (a dictionary
/// mutated in place); routes a reload removed keep their series, as Prometheus counters do.
final class RouteMetricsFamily: Sendable {
    private struct Key: Hashable {
        var service: String
        var route: String
    }

    private let routes = Mutex<(index: [Key: RouteMetrics], ordered: [RouteMetrics])>(([:], []))

    func metrics(service: String, route: String) -> RouteMetrics {
        let key = Key(service: service, route: route)
        return routes.withLock { routes in
            if let known = routes.index[key] { return known }
            let made = RouteMetrics(service: service, route: route)
            routes.index[key] = made
            routes.ordered.append(made)
            return made
        }
    }

    /// `http_server_request_duration_seconds` and `triplegate_upstream_duration_seconds`, in the
    /// text format, with the series recorded so far.
    func emit(into buffer: inout [UInt8]) {
        let all = routes.withLock { $0.ordered }
        let request = "http_server_request_duration_seconds"
        buffer.append(contentsOf: "# HELP \(request) Time from request head to response end\n# TYPE \(request) histogram\n".utf8)
        for (cls, name) in ["1xx", "2xx", "3xx", "4xx", "5xx"].enumerated() {
            for route in all {
                guard let series = route.recorded(cls) else { continue }
                series.emit(name: request, labels: route.labels + Array(",status_class=\"\(name)\"".utf8), into: &buffer)
            }
        }
        let upstream = "triplegate_upstream_duration_seconds"
        buffer.append(contentsOf: "# HELP \(upstream) Time from an attempt's start to the upstream's response head\n# TYPE \(upstream) histogram\n".utf8)
        for route in all {
            route.recorded(5)?.emit(name: upstream, labels: route.labels, into: &buffer)
        }
    }
}

extension [UInt8] {
    /// Appends `name="value"` with the value escaped as the text format requires (backslash,
    /// double quote, line feed).
    mutating func appendLabel(_ name: String, _ value: String) {
        append(contentsOf: name.utf8)
        append(contentsOf: "=\"".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): append(contentsOf: #"\n"#.utf8)
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }
}
