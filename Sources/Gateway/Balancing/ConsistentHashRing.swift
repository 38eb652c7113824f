/// A consistent-hash ring (Ketama style): each target owns `160 × weight / 100` points, so
/// adding or removing a target moves only about its share of keys.
package struct ConsistentHashRing: Sendable {
    private let points: [(hash: UInt64, target: Int)]

    package init(weights: [Int]) {
        var points: [(UInt64, Int)] = []
        for (i, w) in weights.enumerated() where w > 0 {
            let count = max(1, 160 * w / 100)
            for v in 0..<count {
                points.append((Self.hash("\(i)-\(v)".utf8), i))
            }
        }
        self.points = points.sorted { $0.0 < $1.0 }
    }

    /// The target owning `key`'s point, or the next one clockwise not in `excluded`.
    package func pick(_ key: UInt64, excluding excluded: TargetSet = TargetSet()) -> Int? {
        guard !points.isEmpty else { return nil }
        var lo = 0, hi = points.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if points[mid].hash < key { lo = mid + 1 } else { hi = mid }
        }
        for step in 0..<points.count {
            let p = points[(lo + step) % points.count]
            if !excluded.contains(p.target) { return p.target }
        }
        return nil
    }

    /// 64-bit FNV-1a with a final avalanche: stable across processes and releases (Swift's
    /// `Hasher` is seeded per process, which would move every key on restart).
    package static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01b3
        }
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return h
    }
}
