import GatewayCore
import NIOConcurrencyHelpers

/// Routing state shared by every event loop and kept across reloads (by deployment id): one
/// lock around small structs, held for a few hundred nanoseconds per attempt. Per-loop state
/// would let each loop learn a failing provider on its own, three failures each. Deployments
/// are numbered once, when a snapshot is built, so a call indexes an array instead of hashing ids.
package final class RoutingState: Sendable {
    private struct Table {
        var slots: [String: Int] = [:]
        var states: [DeploymentState] = []
    }

    private let table = NIOLockedValueBox(Table())

    package init() {}

    /// The slot of deployment `id`, made on first sight (slots are never reused).
    func slot(for id: String, cooldown: LLMCooldownConfig) -> Int {
        table.withLockedValue { t in
            if let s = t.slots[id] { return s }
            t.states.append(DeploymentState(cooldown: cooldown))
            t.slots[id] = t.states.count - 1
            return t.states.count - 1
        }
    }

    /// Chooses a deployment of `group` for the next attempt, counts it in flight and takes its
    /// next key; nil when every deployment is cooling down.
    func begin(_ group: ModelGroup, tried: Set<Int>, now: Int64) -> (index: Int, key: String?)? {
        table.withLockedValue { t in
            let chosen: Int?
            if group.deployments.count == 1 {
                // One deployment (the common case): every strategy picks it if it is up, and
                // none changes its state; no candidate lists are made.
                let only = group.deployments[0]
                chosen = only.weight > 0 && t.states[only.slot].health.isAvailable(now: now) ? 0 : nil
            } else {
                var candidates = group.deployments.enumerated().map { i, d in
                    DeploymentSelector.Candidate(index: i, weight: d.weight, state: t.states[d.slot], price: d.routingPrice)
                }
                chosen = DeploymentSelector.pick(&candidates, routing: group.routing, tried: tried, now: now)
                for c in candidates { t.states[group.deployments[c.index].slot] = c.state }
            }
            guard let chosen else { return nil }
            let d = group.deployments[chosen]
            var key: String?
            if !d.authValues.isEmpty {
                t.states[d.slot].nextKey = (t.states[d.slot].nextKey + 1) % d.authValues.count
                key = d.authValues[t.states[d.slot].nextKey]
            }
            t.states[d.slot].inFlight += 1
            return (chosen, key)
        }
    }

    /// An attempt's outcome. `firstByteNanos` feeds the latency EWMA on success.
    func end(_ d: Deployment, success: Bool?, firstByteNanos: Int64?, retryAfter: Duration?, now: Int64) {
        table.withLockedValue { t in
            var s = t.states[d.slot]
            s.inFlight = max(0, s.inFlight - 1)
            switch success {
            case true?: s.health.recordSuccess()
            case false?: s.health.recordFailure(now: now, retryAfter: retryAfter)
            case nil: break  // neither (the client left, or a 4xx that says nothing about the provider)
            }
            if let firstByteNanos { s.recordLatency(nanos: firstByteNanos) }
            t.states[d.slot] = s
        }
    }

}
