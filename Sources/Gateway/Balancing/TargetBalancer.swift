import GatewayCore

/// Picks the target for each request of one service on one event loop. Each loop has its own
/// balancer, so picking takes no lock; with N loops each one keeps the weights exactly, so the
/// whole does too.
package final class TargetBalancer {
    package let algorithm: BalanceAlgorithm
    private var roundRobin: SmoothWeightedRoundRobin
    private let ring: ConsistentHashRing?
    private let weights: [Int]
    /// Requests in flight per target, for least-connections.
    package private(set) var inFlight: [Int]
    private var tieBreak = 0

    package init(algorithm: BalanceAlgorithm, weights: [Int]) {
        self.algorithm = algorithm
        self.weights = weights
        self.roundRobin = SmoothWeightedRoundRobin(weights: weights)
        self.ring = algorithm == .hash ? ConsistentHashRing(weights: weights) : nil
        self.inFlight = Array(repeating: 0, count: weights.count)
    }

    /// The target for a request, or nil when none is left (all weight 0, or all tried).
    /// `hashKey` is the request's hash input when `balance: hash` (nil falls back to weights).
    package func pick(hashKey: UInt64?, excluding excluded: TargetSet = TargetSet()) -> Int? {
        switch algorithm {
        case .weighted:
            return roundRobin.next(excluding: excluded)
        case .hash:
            if let hashKey, let ring { return ring.pick(hashKey, excluding: excluded) }
            return roundRobin.next(excluding: excluded)
        case .leastConnections:
            var best: Int?
            // Compare inFlight/weight without division: a/wa < b/wb  <=>  a*wb < b*wa.
            let n = weights.count
            tieBreak = (tieBreak + 1) % max(n, 1)
            for k in 0..<n {
                let i = (k + tieBreak) % n
                guard weights[i] > 0, !excluded.contains(i) else { continue }
                if let b = best {
                    if (inFlight[i] + 1) * weights[b] < (inFlight[b] + 1) * weights[i] { best = i }
                } else {
                    best = i
                }
            }
            return best
        }
    }

    package func started(_ target: Int) { inFlight[target] += 1 }
    package func finished(_ target: Int) { inFlight[target] -= 1 }
}
