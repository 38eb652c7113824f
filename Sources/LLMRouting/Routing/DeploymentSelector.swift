import GatewayCore

/// What routing knows about one deployment: its health (cooldown), requests in flight, an
/// EWMA of its time to first token, and whose key is next.
package struct DeploymentState: Sendable {
    package var health: DeploymentHealth
    package var inFlight = 0
    /// Exponentially weighted moving average of time to first token, nanoseconds; nil until measured.
    package var latencyEWMA: Double?
    /// Smooth weighted round robin's running weight.
    var current = 0
    var nextKey = 0

    package init(cooldown: LLMCooldownConfig) {
        health = DeploymentHealth(failures: cooldown.failures, cooldown: cooldown.duration)
    }

    /// Weight of the newest sample: 0.3 follows a change within a handful of calls.
    static let ewmaAlpha = 0.3

    mutating func recordLatency(nanos: Int64) {
        let x = Double(nanos)
        latencyEWMA = latencyEWMA.map { $0 + Self.ewmaAlpha * (x - $0) } ?? x
    }
}

/// Picks a deployment of a model group for one attempt. Pure: states and time come in.
package enum DeploymentSelector {
    /// A candidate: its index in the group, weight, state, and its price (input + output per 1M).
    package struct Candidate {
        package var index: Int
        package var weight: Int
        package var state: DeploymentState
        package var price: Int64

        package init(index: Int, weight: Int, state: DeploymentState, price: Int64) {
            self.index = index
            self.weight = weight
            self.state = state
            self.price = price
        }
    }

    /// The index chosen among the available candidates (not cooling; weight > 0), or nil.
    /// Candidates tried earlier in this request are passed as `tried` and avoided while others remain.
    /// `weighted` updates the smooth-round-robin weights in `candidates`.
    package static func pick(_ candidates: inout [Candidate], routing: LLMModelConfig.Routing, tried: Set<Int>, now: Int64) -> Int? {
        let usable = candidates.indices.filter { candidates[$0].state.health.isAvailable(now: now) && candidates[$0].weight > 0 }
        let fresh = usable.filter { !tried.contains(candidates[$0].index) }
        let pool = fresh.isEmpty ? usable : fresh
        guard !pool.isEmpty else { return nil }
        switch routing {
        case .weighted:
            // Smooth weighted round robin (nginx): deterministic, and spreads a 3:1 split as
            // a,a,b,a rather than a,a,a,b.
            let total = pool.reduce(0) { $0 + candidates[$1].weight }
            var best = pool[0]
            for i in pool {
                candidates[i].state.current += candidates[i].weight
                if candidates[i].state.current > candidates[best].state.current { best = i }
            }
            candidates[best].state.current -= total
            return candidates[best].index
        case .leastBusy:
            return candidates[pool.min { candidates[$0].state.inFlight < candidates[$1].state.inFlight }!].index
        case .lowestLatency:
            // Unmeasured deployments go first, so each gets measured.
            let unmeasured = pool.filter { candidates[$0].state.latencyEWMA == nil }
            if let first = unmeasured.first { return candidates[first].index }
            return candidates[pool.min { candidates[$0].state.latencyEWMA! < candidates[$1].state.latencyEWMA! }!].index
        case .lowestCost:
            return candidates[pool.min { (candidates[$0].price, candidates[$0].index) < (candidates[$1].price, candidates[$1].index) }!].index
        }
    }
}
