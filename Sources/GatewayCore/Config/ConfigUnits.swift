import Foundation

/// Parses durations written in config files: `250ms`, `5s`, `2m`, `1h`, `1d`, or bare seconds.
package enum ConfigDuration {
    package static func parse(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)), n >= 0, n.isFinite else { return nil }
            return .nanoseconds(Int64((n * scale * 1e9).rounded()))
        }
        guard let n = Double(t), n >= 0, n.isFinite else { return nil }
        return .nanoseconds(Int64((n * 1e9).rounded()))
    }

    /// The shortest exact spelling of a duration, for printing the effective config.
    package static func format(_ d: Duration) -> String {
        let ns = d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
        if ns % 3_600_000_000_000 == 0, ns > 0 { return "\(ns / 3_600_000_000_000)h" }
        if ns % 60_000_000_000 == 0, ns > 0 { return "\(ns / 60_000_000_000)m" }
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        return "\(ns / 1000)us"
    }
}

/// Parses sizes written in config files: `512`, `8KiB`, `10MiB`, `1GiB` (also KB/MB/GB, as powers of 1024).
package enum ConfigByteSize {
    package static func parse(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
            ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1),
        ]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let n = Int(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 0 else { return nil }
            return n * scale
        }
        guard let n = Int(t), n >= 0 else { return nil }
        return n
    }
}

extension Duration {
    /// Whole nanoseconds (saturating), for event-loop timers and the pure state machines, which
    /// count time in `Int64` nanoseconds.
    package var nanoseconds: Int64 {
        let (s, a) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : ns + a / 1_000_000_000
    }
}
