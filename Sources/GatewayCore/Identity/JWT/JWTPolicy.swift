import CoreMetrics
import Foundation
import NIOCore

/// Seconds since the Unix epoch, injectable so token-time checks are testable.
public struct WallClock: Sendable {
    public let seconds: @Sendable () -> Int64
    public init(seconds: @escaping @Sendable () -> Int64) { self.seconds = seconds }
    public static let system = WallClock { Int64(Date().timeIntervalSince1970) }
}

/// `jwt` in the authenticate phase: verifies `Authorization: Bearer <jwt>` against
/// `auth.jwt` and maps its claims to a consumer. A token naming an unknown `kid` suspends the
/// request on one (rate-limited) JWKS refresh and is verified again with the new keys.
public struct JWTPolicy: RequestPolicy {
    public let name = "jwt"
    public let phase = PolicyPhase.authenticate
    public let priority = 1450  // Kong's jwt priority: before key-auth
    let config: JWTPolicyConfig
    let auth: JWTAuthConfig
    let verifier: JWTVerifier
    let keys: JWTKeySource
    let consumers: [String: Consumer]
    let clock: WallClock
    let metrics: GatewayMetrics?

    public init(config: JWTPolicyConfig, auth: JWTAuthConfig, keys: JWTKeySource, consumers: [String: Consumer],
                clock: WallClock = .system, metrics: GatewayMetrics? = nil) {
        self.config = config
        self.auth = auth
        self.verifier = JWTVerifier(config: auth)
        self.keys = keys
        self.consumers = consumers
        self.clock = clock
        self.metrics = metrics
    }

    public func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        if context.consumer != nil { return .proceed }
        guard let bearer = BearerToken.from(context.headers) else {
            if config.anonymous { return .proceed }
            metrics?.authMissing.increment()
            return .reject(KeyAuthPolicy.unauthorized("No bearer token", error: nil))
        }
        let token = String(bearer)
        guard let eventLoop = context.eventLoop else { return decide(token, keys: keys.current(now: context.now, on: nil), &context) }
        let first = keys.current(now: context.now, on: eventLoop)
        let outcome = verifier.verify(token, keys: first, nowSeconds: clock.seconds())
        // An unknown kid, or any failure before the JWKS has ever been fetched, asks for keys.
        guard case .failure(let rejection) = outcome, rejection.isUnknownKey || !keys.hasFetched() else { return finish(outcome, &context) }
        switch keys.refreshForUnknownKey(now: context.now, on: eventLoop) {
        case .tooSoon:
            return finish(outcome, &context)
        case .fetching(let refreshed):
            let policy = self
            return .suspend(refreshed.map { keySet in
                var scratch = PolicyContext(method: .GET, headers: [:], clientIP: nil, service: "", route: "", now: 0)
                let verdict = policy.finish(policy.verifier.verify(token, keys: keySet, nowSeconds: policy.clock.seconds()), &scratch)
                let consumer = scratch.consumer, remove = scratch.removeRequestHeaders
                return PolicyResumption(verdict: verdict) { ctx in
                    if let consumer { ctx.consumer = consumer }
                    ctx.removeRequestHeaders += remove
                }
            })
        }
    }

    private func decide(_ token: String, keys: JWTKeySet, _ context: inout PolicyContext) -> PolicyVerdict {
        finish(verifier.verify(token, keys: keys, nowSeconds: clock.seconds()), &context)
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
            if var known = consumers[name] {
                for g in claimGroups where !known.groups.contains(g) { known.groups.append(g) }
                context.consumer = known
            } else if auth.requireKnownConsumer {
                metrics?.authFailure("jwt_unknown_consumer").increment()
                return .reject(Self.invalidToken("consumer \"\(name)\" is not known here"))
            } else {
                context.consumer = Consumer(name: name, team: auth.teamClaim.flatMap { claims[$0]?.stringValue }, groups: claimGroups)
            }
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
