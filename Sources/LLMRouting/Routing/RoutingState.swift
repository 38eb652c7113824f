import GatewayCore
import NIOConcurrencyHelpers

/// Routing state shared by every event loop and kept across reloads (by deployment id): one
/// lock around small structs, held for a few hundred nanoseconds per attempt. Per-loop state
/// would let each loop learn a failing provider on its own, three failures each.
public final class RoutingState: Sendable {
    private let states = NIOLockedValueBox<[String: DeploymentState]>([:])

    public init() {}

    /// Chooses a deployment of `group` for the next attempt, counts it in flight and takes its
    /// next key; nil when every deployment is cooling down.
    func begin(_ group: ModelGroup, tried: Set<Int>, now: Int64) -> (index: Int, key: String?)? {
        states.withLockedValue { all in
            var candidates = group.deployments.enumerated().map { i, d in
                DeploymentSelector.Candidate(index: i, weight: d.weight, state: all[d.id] ?? DeploymentState(cooldown: d.cooldown),
                                             price: d.routingPrice)
            }
            let chosen = DeploymentSelector.pick(&candidates, routing: group.routing, tried: tried, now: now)
            for c in candidates { all[group.deployments[c.index].id] = c.state }
            guard let chosen else { return nil }
            let d = group.deployments[chosen]
            var key: String?
            if !d.authValues.isEmpty {
                all[d.id]!.nextKey = (all[d.id]!.nextKey + 1) % d.authValues.count
                key = d.authValues[all[d.id]!.nextKey]
            }
            all[d.id]!.inFlight += 1
            return (chosen, key)
        }
    }

    /// An attempt's outcome. `firstByteNanos` feeds the latency EWMA on success.
    func end(_ d: Deployment, success: Bool?, firstByteNanos: Int64?, retryAfter: Duration?, now: Int64) {
        states.withLockedValue { all in
            var s = all[d.id] ?? DeploymentState(cooldown: d.cooldown)
            s.inFlight = max(0, s.inFlight - 1)
            switch success {
            case true?: s.health.recordSuccess()
            case false?: s.health.recordFailure(now: now, retryAfter: retryAfter)
            case nil: break  // neither (the client left, or a 4xx that says nothing about the provider)
            }
            if let firstByteNanos { s.recordLatency(nanos: firstByteNanos) }
            all[d.id] = s
        }
    }

    /// A deployment's state, for tests and the admin API.
    public func state(of id: String) -> DeploymentState? { states.withLockedValue { $0[id] } }

}
