/// nginx's smooth weighted round robin: over any window of `sum(weights)` picks each target
/// gets exactly its weight, and picks of one target are spread out rather than bunched.
/// Weight 0 is never picked.
package struct SmoothWeightedRoundRobin: Sendable {
    package let weights: [Int]
    private var current: [Int]
    private let total: Int

    package init(weights: [Int]) {
        self.weights = weights
        self.current = Array(repeating: 0, count: weights.count)
        self.total = weights.reduce(0, +)
    }

    /// The next target, skipping `excluded` ones (already tried); nil when none is left.
    package mutating func next(excluding excluded: TargetSet = TargetSet()) -> Int? {
        var best = -1
        var total = 0
        for i in weights.indices where weights[i] > 0 && !excluded.contains(i) {
            current[i] += weights[i]
            total += weights[i]
            if best < 0 || current[i] > current[best] { best = i }
        }
        guard best >= 0 else { return nil }
        current[best] -= total
        return best
    }
}

/// A small set of target indexes (the targets an exchange already tried). Targets past 64
/// are never excluded, which only means a retry may land on a target tried before.
package struct TargetSet: Sendable, Equatable {
    private var bits: UInt64 = 0

    package init() {}

    package func contains(_ i: Int) -> Bool { i < 64 && bits & (1 << UInt64(i)) != 0 }

    package mutating func insert(_ i: Int) { if i < 64 { bits |= 1 << UInt64(i) } }

    package var isEmpty: Bool { bits == 0 }
}
