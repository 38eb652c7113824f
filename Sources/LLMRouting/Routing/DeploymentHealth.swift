/// Whether a deployment is in rotation: `failures` consecutive failures take it out for
/// `cooldown`; when that passes it is tried again, and one more failure takes it straight back
/// out (half-open), while a success puts it fully back. A provider's own `retry-after` longer
/// than the cooldown keeps it out that long. Pure: time comes in as monotonic nanoseconds.
package struct DeploymentHealth: Sendable, Equatable {
    package let failuresToCool: Int
    package let cooldownNanos: Int64
    package private(set) var consecutiveFailures = 0
    /// Out of rotation until this instant, if cooling.
    package private(set) var coolingUntil: Int64?

    package init(failures: Int, cooldown: Duration) {
        precondition(failures > 0)
        failuresToCool = failures
        cooldownNanos = cooldown.nanoseconds
    }

    package func isAvailable(now: Int64) -> Bool {
        guard let until = coolingUntil else { return true }
        return now >= until
    }

    package mutating func recordSuccess() {
        consecutiveFailures = 0
        coolingUntil = nil
    }

    /// A failed attempt (429, 5xx, timeout, connect), with the provider's `retry-after` if any.
    package mutating func recordFailure(now: Int64, retryAfter: Duration? = nil) {
        let halfOpen = coolingUntil.map { now >= $0 } ?? false
        consecutiveFailures += 1
        if halfOpen || consecutiveFailures >= failuresToCool {
            let asked = retryAfter?.nanoseconds ?? 0
            coolingUntil = now + max(cooldownNanos, asked)
        } else if let asked = retryAfter?.nanoseconds, asked > cooldownNanos {
            // The provider said how long: believe it even before the failure count is reached.
            coolingUntil = now + asked
        }
    }
}
