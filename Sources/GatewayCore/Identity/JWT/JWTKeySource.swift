import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The keys `jwt` policies verify with: the config's own keys plus the issuer's JWKS. The JWKS
/// is fetched on first use, again in the background once it is older than `jwks_refresh`, and
/// at once when a token names an unknown `kid`, but never more often than `jwks_min_refresh`
/// (so a flood of made-up kids cannot turn the gateway against the issuer). Concurrent requests
/// share one fetch. Lives across config reloads while the JWKS settings stay the same.
package final class JWTKeySource: Sendable {
    /// Whether a refresh was started for an unknown kid or refused by the rate limit.
    package enum RefreshAnswer {
        case fetching(EventLoopFuture<JWTKeySet>)
        case tooSoon
    }

    struct State {
        var keys: JWTKeySet
        var jwksKeys: [JWTVerificationKey] = []
        /// Monotonic nanoseconds of the last fetch attempt; nil before the first.
        var lastAttempt: Int64?
        var lastSuccess: Int64?
        /// When a refresh for an unknown kid last started.
        var lastKidRefresh: Int64?
        var inFlight: EventLoopFuture<JWTKeySet>?
        /// Payloads of tokens whose signature these keys verified (as Envoy's jwt_cache): a
        /// client sends the same token many times, and an RS256 check costs ~25 µs. Claims are
        /// still checked on every request. Emptied whenever the keys change.
        var verified: [String: JSONValue] = [:]
    }

    static let verifiedCacheSize = 10_000

    let staticKeys: [JWTVerificationKey]
    let jwksURL: String?
    let refreshEvery: Int64
    let minRefresh: Int64
    let fetcher: HTTPFetcher
    let logger: Logger
    private let state: NIOLockedValueBox<State>

    package init(config: JWTAuthConfig, logger: Logger = Logger(label: "triplegate.jwt")) throws {
        staticKeys = try config.keys.map(JWTVerificationKey.make)
        jwksURL = config.jwksURL
        refreshEvery = Int64(config.jwksRefresh.nanoseconds)
        minRefresh = Int64(config.jwksMinRefresh.nanoseconds)
        fetcher = HTTPFetcher(timeout: .seconds(5), caFile: config.jwksCAFile)
        self.logger = logger
        state = NIOLockedValueBox(State(keys: JWTKeySet(staticKeys)))
    }

    /// The keys now. When the JWKS is stale, a background refresh starts (the caller still gets
    /// the current keys at once).
    package func current(now: Int64, on eventLoop: EventLoop?) -> JWTKeySet {
        let (keys, stale) = state.withLockedValue { s -> (JWTKeySet, Bool) in
            guard jwksURL != nil, s.inFlight == nil else { return (s.keys, false) }
            guard let last = s.lastSuccess else { return (s.keys, false) }
            return (s.keys, now - last >= refreshEvery && now - (s.lastAttempt ?? 0) >= minRefresh)
        }
        if stale, let eventLoop { _ = startFetch(now: now, on: eventLoop, force: true) }
        return keys
    }

    /// The payload of a token these keys already verified, if remembered.
    package func verifiedPayload(_ token: String) -> JSONValue? {
        state.withLockedValue { $0.verified[token] }
    }

    /// Remembers a verified token's payload (tokens without `exp` are not kept: they never age out).
    package func remember(_ token: String, payload: JSONValue, verifiedWith keySet: JWTKeySet) {
        guard payload["exp"]?.intValue != nil, token.utf8.count <= 8192 else { return }
        state.withLockedValue { s in
            guard s.keys.generation == keySet.generation else { return }  // the keys changed meanwhile
            if s.verified.count >= Self.verifiedCacheSize { s.verified.removeAll(keepingCapacity: true) }
            s.verified[token] = payload
        }
    }

    /// Whether a JWKS has been fetched at least once (or none is configured).
    package func hasFetched() -> Bool { jwksURL == nil || state.withLockedValue { $0.lastSuccess != nil } }

    /// A refresh because a token names a kid we lack (or no JWKS has been fetched yet).
    package func refreshForUnknownKey(now: Int64, on eventLoop: EventLoop) -> RefreshAnswer {
        guard jwksURL != nil else { return .tooSoon }
        if let f = startFetch(now: now, on: eventLoop, force: false) { return .fetching(f) }
        return .tooSoon
    }

    private func startFetch(now: Int64, on eventLoop: EventLoop, force: Bool) -> EventLoopFuture<JWTKeySet>? {
        guard let url = jwksURL else { return nil }
        enum Start { case join(EventLoopFuture<JWTKeySet>), tooSoon, fetch(EventLoopPromise<JWTKeySet>) }
        let start = state.withLockedValue { s -> Start in
            if let f = s.inFlight { return .join(f) }
            if !force {
                // The first fetch is free; refreshes for unknown kids are rate-limited.
                if s.lastSuccess != nil || s.lastAttempt != nil {
                    if let last = s.lastKidRefresh, now - last < minRefresh { return .tooSoon }
                    s.lastKidRefresh = now
                }
            }
            s.lastAttempt = now
            let promise = eventLoop.makePromise(of: JWTKeySet.self)
            s.inFlight = promise.futureResult
            return .fetch(promise)
        }
        let promise: EventLoopPromise<JWTKeySet>
        switch start {
        case .join(let f): return f
        case .tooSoon: return nil
        case .fetch(let p): promise = p
        }
        fetcher.get(url, on: eventLoop).whenComplete { result in
            let outcome: Result<JWTKeySet, Error>
            switch result {
            case .success(let response) where response.status == .ok:
                do {
                    let parsed = try JWTKeySet.parseJWKS(Array(response.body.readableBytesView))
                    for skipped in parsed.skipped { self.logger.warning("JWKS key skipped", metadata: ["jwks_url": "\(url)", "reason": "\(skipped)"]) }
                    outcome = .success(JWTKeySet(self.staticKeys + parsed.keys, generation: self.state.withLockedValue { $0.keys.generation } + 1))
                } catch {
                    outcome = .failure(error)
                }
            case .success(let response):
                outcome = .failure(HTTPFetcher.Failure.badURL("\(url) answered \(response.status.code)"))
            case .failure(let error):
                outcome = .failure(error)
            }
            let keys = self.state.withLockedValue { s -> JWTKeySet in
                s.inFlight = nil
                if case .success(let set) = outcome {
                    s.keys = set
                    s.lastSuccess = now
                    s.verified = [:]  // a key may have been withdrawn
                }
                return s.keys
            }
            if case .failure(let error) = outcome {
                self.logger.error("JWKS fetch failed; keeping the keys we have", metadata: ["jwks_url": "\(url)", "error": "\(error)"])
            }
            promise.succeed(keys)
        }
        return promise.futureResult
    }
}
