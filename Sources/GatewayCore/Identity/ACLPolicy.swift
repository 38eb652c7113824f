import Prometheus

/// `acl` in the authorize phase: the consumer must be in an `allow` group (when any are
/// listed) and in no `deny` group. Deny wins.
package struct ACLPolicy: RequestPolicy {
    package let name = "acl"
    package let phase = PolicyPhase.authorize
    package let priority = 950
    let config: ACLConfig
    let forbidden: Counter?
    let missing: Counter?

    package init(config: ACLConfig, forbidden: Counter? = nil, missing: Counter? = nil) {
        self.config = config
        self.forbidden = forbidden
        self.missing = missing
    }

    package func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        guard let consumer = context.consumer else {
            missing?.increment()
            return .reject(KeyAuthPolicy.unauthorized("Authentication required", error: nil))
        }
        if consumer.groups.contains(where: config.deny.contains) {
            forbidden?.increment()
            return .reject(ProblemDetails(status: .forbidden, title: "Consumer is not allowed here"))
        }
        if !config.allow.isEmpty, !consumer.groups.contains(where: config.allow.contains) {
            forbidden?.increment()
            return .reject(ProblemDetails(status: .forbidden, title: "Consumer is not allowed here"))
        }
        return .proceed
    }
}
