import NIOCore

/// `oauth2_introspection` in the authenticate phase: an opaque bearer token is good when the
/// authorization server says it is active (cached per `TokenIntrospector`); its subject names
/// the consumer, and with `mandatory_scope` it must carry one of the route's `scopes`.
package struct IntrospectionPolicy: RequestPolicy {
    package let name = "oauth2_introspection"
    package let phase = PolicyPhase.authenticate
    package let priority = 1700  // Kong's oauth2-introspection priority
    let config: IntrospectionPolicyConfig
    let introspector: TokenIntrospector
    let consumers: [String: Consumer]
    let clock: WallClock
    let metrics: GatewayMetrics?

    package init(config: IntrospectionPolicyConfig, introspector: TokenIntrospector, consumers: [String: Consumer],
                clock: WallClock = .system, metrics: GatewayMetrics? = nil) {
        self.config = config
        self.introspector = introspector
        self.consumers = consumers
        self.clock = clock
        self.metrics = metrics
    }

    package func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        if context.consumer != nil { return .proceed }
        guard let token = BearerToken.from(context.headers) else {
            if config.anonymous { return .proceed }
            metrics?.authMissing.increment()
            return .reject(KeyAuthPolicy.unauthorized("No bearer token", error: nil))
        }
        let now = clock.seconds()
        if let known = introspector.cached(token, now: now) { return decide(known, &context) }
        guard let eventLoop = context.eventLoop else {
            return .reject(ProblemDetails(status: .serviceUnavailable, title: "Token introspection needs an event loop"))
        }
        let policy = self
        let future = introspector.introspect(token, now: now, on: eventLoop).map { answer in
            PolicyResumption.authenticated { policy.decide(answer, &$0) }
        }.recover { _ in
            policy.metrics?.authFailure("introspection_unavailable").increment()
            return PolicyResumption(verdict: .reject(ProblemDetails(status: .serviceUnavailable, title: "The authorization server could not be asked",
                                                                    headers: [("retry-after", "1")])))
        }
        return .suspend(future)
    }

    func decide(_ answer: IntrospectedToken, _ context: inout PolicyContext) -> PolicyVerdict {
        guard answer.active else {
            metrics?.authFailure("introspection_inactive").increment()
            return .reject(JWTPolicy.invalidToken("token is not active"))
        }
        if let exp = answer.expiresAt, exp <= clock.seconds() {
            metrics?.authFailure("introspection_expired").increment()
            return .reject(JWTPolicy.invalidToken("token has expired"))
        }
        if config.mandatoryScope, !answer.scopes.contains(where: config.scopes.contains) {
            metrics?.authFailure("insufficient_scope").increment()
            let wanted = config.scopes.joined(separator: " ")
            return .reject(ProblemDetails(status: .forbidden, title: "Insufficient scope", detail: "this route needs one of: \(wanted)",
                                          headers: [("www-authenticate", "Bearer realm=\"triplegate\", error=\"insufficient_scope\", scope=\"\(wanted)\"")]))
        }
        guard let subject = answer.subject else {
            metrics?.authFailure("introspection_no_subject").increment()
            return .reject(JWTPolicy.invalidToken("token names no subject"))
        }
        context.consumer = Consumer.identified(subject, groups: answer.groups, team: nil, declared: consumers)
        if config.hideCredentials { context.removeRequestHeaders.append("authorization") }
        return .proceed
    }
}
