import CoreMetrics
import Foundation
import NIOCore

/// Seconds since the Unix epoch, injectable so token-time checks are testable.
package struct WallClock: Sendable {
    package let seconds: @Sendable () -> Int64
    package init(seconds: @escaping @Sendable () -> Int64) { self.seconds = seconds }
    package static let system = WallClock { Int64(Date().timeIntervalSince1970) }
}

/// `jwt` in the authenticate phase: verifies `Authorization: Bearer <jwt>` against
/// `auth.jwt` and maps its claims to a consumer. A token naming an unknown `kid` suspends the
/// request on one (rate-limited) JWKS refresh and is verified again with the new keys.
package struct JWTPolicy: RequestPolicy {
    package let name = "jwt"
    package let phase = PolicyPhase.authenticate
    package let priority = 1450  // Kong's jwt priority: before key-auth
    let config: JWTPolicyConfig
    let auth: JWTAuthConfig
    let verifier: JWTVerifier
    let keys: JWTKeySource
    let consumers: [String: Consumer]
    let clock: WallClock
    let metrics: GatewayMetrics?

    package init(config: JWTPolicyConfig, auth: JWTAuthConfig, keys: JWTKeySource, consumers: [String: Consumer],
                clock: WallClock = .system, metrics: GatewayMetrics? = nil) {
        self.config = config
        self.auth = auth
        self.verifier = JWTVerifier(config: auth)
        self.keys = keys
        self.consumers = consumers
        self.clock = clock
        self.metrics = metrics
    }

    package func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        guard let bearer = BearerToken.from(context.headers) else {
            // Already identified (a certificate, a token): no token needed (`IdentityRule`).
            if config.anonymous || context.consumer != nil { return .proceed }
            metrics?.authMissing.increment()
            return .reject(KeyAuthPolicy.unauthorized("No bearer token", error: nil))
        }
        // Identified already, a bearer that is no JWT is another authenticator's (an API key).
        if context.consumer != nil, bearer.utf8.lazy.filter({ $0 == UInt8(ascii: ".") }).count != 2 { return .proceed }
        let token = String(bearer)
        guard let eventLoop = context.eventLoop else { return decide(token, keys: keys.current(now: context.now, on: nil), &context) }
        let first = keys.current(now: context.now, on: eventLoop)
        let outcome = check(token, with: first)
        // An unknown kid, or any failure before the JWKS has ever been fetched, asks for keys.
        guard case .failure(let rejection) = outcome, rejection.isUnknownKey || !keys.hasFetched() else { return finish(outcome, &context) }
        switch keys.refreshForUnknownKey(now: context.now, on: eventLoop) {
        case .tooSoon:
            return finish(outcome, &context)
        case .fetching(let refreshed):
            let policy = self
            return .suspend(refreshed.map { keySet in
                PolicyResumption.authenticated { policy.finish(policy.check(token, with: keySet), &$0) }
            })
        }
    }

    private func decide(_ token: String, keys: JWTKeySet, _ context: inout PolicyContext) -> PolicyVerdict {
        finish(check(token, with: keys), &context)
    }

    /// Verifies the signature (or finds it verified before with these keys), then the claims,
    /// which depend on the time and on this config, every time.
    func check(_ token: String, with keySet: JWTKeySet) -> Result<JSONValue, JWTRejection> {
        let signed: Result<JSONValue, JWTRejection>
        if let known = keys.verifiedPayload(token) {
            signed = .success(known)
        } else {
            signed = verifier.verifySignature(token, keys: keySet)
            if case .success(let payload) = signed { keys.remember(token, payload: payload, verifiedWith: keySet) }
        }
        return signed.flatMap { payload in
            if let failure = verifier.checkClaims(payload, nowSeconds: clock.seconds()) { return .failure(failure) }
            return .success(payload)
        }
    }

    func finish(_ outcome: Result<JSONValue, JWTRejection>, _ context: inout PolicyContext) -> PolicyVerdict {
        switch outcome {
        case .failure(let rejection):
            metrics?.authFailure("jwt_\(rejection.reason)").increment()
            return .reject(Self.invalidToken(rejection.description))
        case .success(let claims):
            guard let name = claims[auth.consumerClaim]?.stringValue, !name.isEmpty else {
                metrics?.authFailure("jwt_missing_claim").increment()
                return .reject(Self.invalidToken("token lacks the \(auth.consumerClaim) claim"))
            }
            let claimGroups = auth.groupsClaim.flatMap { claims[$0]?.stringList } ?? []
            if auth.requireKnownConsumer, consumers[name] == nil {
                metrics?.authFailure("jwt_unknown_consumer").increment()
                return .reject(Self.invalidToken("consumer \"\(name)\" is not known here"))
            }
            if context.consumer != nil {
                // A token for the consumer already identified adds nothing; one for another is refused.
                return IdentityRule.conflict(established: context.consumer, presented: name, by: "bearer token", metrics: metrics) ?? .proceed
            }
            context.consumer = Consumer.identified(name, groups: claimGroups, team: auth.teamClaim.flatMap { claims[$0]?.stringValue },
                                                   declared: consumers)
            if config.hideCredentials { context.removeRequestHeaders.append("authorization") }
            return .proceed
        }
    }

    static func invalidToken(_ description: String) -> ProblemDetails {
        let quoted = description.replacingOccurrences(of: "\"", with: "'")
        return ProblemDetails(status: .unauthorized, title: "Invalid token", detail: description,
                              headers: [("www-authenticate", "Bearer realm=\"triplegate\", error=\"invalid_token\", error_description=\"\(quoted)\"")])
    }
}
