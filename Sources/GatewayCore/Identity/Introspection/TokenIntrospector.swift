import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Crypto

/// What the authorization server said about a token (RFC 7662 §2.2), reduced to what policies use.
package struct IntrospectedToken: Sendable, Equatable {
    package var active: Bool
    package var subject: String?
    package var scopes: [String]
    package var groups: [String]
    /// The token's `exp`, seconds since the epoch.
    package var expiresAt: Int64?
}

/// Asks `auth.introspection` whether a bearer token is active, and remembers the answer until
/// the earlier of the token's `exp` and `cache_ttl` (inactive answers for `negative_ttl`), so a
/// busy client costs the authorization server one call per token per TTL, not one per request.
/// Concurrent requests with the same token share one call. Tokens are kept only as SHA-256
/// digests.
package final class TokenIntrospector: Sendable {
    struct Entry {
        var token: IntrospectedToken
        var validUntil: Int64  // wall-clock seconds
    }

    struct State {
        var cache: [SHA256Digest: Entry] = [:]
        var inFlight: [SHA256Digest: EventLoopFuture<IntrospectedToken>] = [:]
    }

    package enum Failure: Error, CustomStringConvertible {
        case server(Int)
        case badAnswer(String)
        package var description: String {
            switch self {
            case .server(let code): return "introspection endpoint answered \(code)"
            case .badAnswer(let why): return "introspection answer is not usable: \(why)"
            }
        }
    }

    let config: IntrospectionConfig
    let fetcher: HTTPFetcher
    let logger: Logger
    static let maxEntries = 100_000
    private let state = NIOLockedValueBox(State())

    package init(config: IntrospectionConfig, logger: Logger = Logger(label: "triplegate.introspection")) {
        self.config = config
        self.fetcher = HTTPFetcher(timeout: .nanoseconds(Int64(config.timeout.nanoseconds)), caFile: config.caFile)
        self.logger = logger
    }

    /// The cached answer for a token, if it is still good at `now`.
    package func cached(_ token: Substring, now: Int64) -> IntrospectedToken? {
        let key = SHA256.hash(data: Array(token.utf8))
        return state.withLockedValue { s in
            guard let e = s.cache[key] else { return nil }
            if e.validUntil <= now { s.cache[key] = nil; return nil }
            return e.token
        }
    }

    /// Asks the authorization server (or joins a call already under way for this token).
    package func introspect(_ token: Substring, now: Int64, on eventLoop: EventLoop) -> EventLoopFuture<IntrospectedToken> {
        let key = SHA256.hash(data: Array(token.utf8))
        enum Start { case join(EventLoopFuture<IntrospectedToken>), ask(EventLoopPromise<IntrospectedToken>) }
        let start = state.withLockedValue { s -> Start in
            if let f = s.inFlight[key] { return .join(f) }
            let promise = eventLoop.makePromise(of: IntrospectedToken.self)
            s.inFlight[key] = promise.futureResult
            return .ask(promise)
        }
        let promise: EventLoopPromise<IntrospectedToken>
        switch start {
        case .join(let joined): return joined
        case .ask(let p): promise = p
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        headers.add(name: "accept", value: "application/json")
        if let id = config.clientID {
            let pair = "\(Self.formEscape(id)):\(Self.formEscape(config.clientSecret ?? ""))"
            headers.add(name: "authorization", value: "Basic \(Data(pair.utf8).base64EncodedString())")
        }
        var body = ByteBuffer()
        body.writeString("token=\(Self.formEscape(String(token)))&token_type_hint=access_token")
        let config = self.config
        fetcher.request(.POST, config.url, headers: headers, body: body, on: eventLoop).flatMapThrowing { response -> IntrospectedToken in
            guard response.status == .ok else { throw Failure.server(Int(response.status.code)) }
            let json: JSONValue
            do { json = try JSONParser.parse(Array(response.body.readableBytesView)) } catch { throw Failure.badAnswer("\(error)") }
            guard let active = json["active"]?.boolValue else { throw Failure.badAnswer("no boolean active member") }
            let subject = [config.consumerClaim, "username", "sub", "client_id"].compactMap { $0 }.lazy.compactMap { json[$0]?.stringValue }.first
            let scopes = json["scope"]?.stringValue.map { $0.split(separator: " ").map(String.init) } ?? []
            let groups = config.groupsClaim.flatMap { json[$0]?.stringList } ?? []
            return IntrospectedToken(active: active, subject: subject, scopes: scopes, groups: groups, expiresAt: json["exp"]?.intValue.map(Int64.init))
        }.whenComplete { result in
            self.state.withLockedValue { s in
                s.inFlight[key] = nil
                guard case .success(let answer) = result else { return }
                var until = now + (answer.active ? Int64(config.cacheTTL.components.seconds) : Int64(config.negativeTTL.components.seconds))
                if let exp = answer.expiresAt { until = min(until, exp) }
                guard until > now else { return }
                if s.cache.count >= Self.maxEntries {
                    // Expired entries first; if none, drop an arbitrary tenth (bounded memory
                    // beats perfect recency here: a miss only costs one more call).
                    s.cache = s.cache.filter { $0.value.validUntil > now }
                    if s.cache.count >= Self.maxEntries { s.cache = Dictionary(uniqueKeysWithValues: s.cache.dropFirst(Self.maxEntries / 10).map { ($0.key, $0.value) }) }
                }
                s.cache[key] = Entry(token: answer, validUntil: until)
            }
            if case .failure(let error) = result {
                self.logger.error("token introspection failed", metadata: ["url": "\(config.url)", "error": "\(error)"])
            }
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    static func formEscape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
