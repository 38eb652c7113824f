import Foundation

/// `auth:`: how credentials that need outside knowledge are checked. The `jwt` and
/// `oauth2_introspection` policies name no keys or servers themselves; they use these.
package struct AuthConfig: Sendable {
    package var jwt: JWTAuthConfig?
    package var introspection: IntrospectionConfig?

    package init() {}
}

/// `auth.jwt`: which tokens are genuine and what their claims mean.
package struct JWTAuthConfig: Sendable {
    package enum Claim: String, Sendable, CaseIterable { case exp, nbf }

    /// Accepted `iss` values; empty accepts any issuer.
    package var issuers: [String] = []
    /// Accepted `aud` values (a token passes when any of its audiences is listed); empty skips
    /// the check.
    package var audiences: [String] = []
    /// Where the issuer publishes its keys. Fetched at start, every `jwksRefresh`, and when a
    /// token names an unknown `kid` (at most once per `jwksMinRefresh`).
    package var jwksURL: String?
    package var jwksRefresh: Duration = .seconds(600)
    package var jwksMinRefresh: Duration = .seconds(30)
    /// Trust anchors for an https JWKS URL; default the system's.
    package var jwksCAFile: String?
    /// Keys given in the config.
    package var keys: [JWTStaticKey] = []
    /// Claims that must be present and valid. Default `[exp]`.
    package var claimsToVerify: [Claim] = [.exp]
    /// Refuse tokens whose `exp` lies further ahead than this. Default none.
    package var maximumExpiration: Duration?
    /// Tolerance for `exp`, `nbf` and `maximum_expiration` against clocks that drift. Default 30 s.
    package var clockSkew: Duration = .seconds(30)
    /// The claim that names the consumer. Default `sub`.
    package var consumerClaim: String = "sub"
    /// A claim (string or list) whose values join the consumer's groups.
    package var groupsClaim: String?
    /// A claim that sets the team when the consumer is not declared under `consumers:`.
    package var teamClaim: String?
    /// Refuse tokens whose consumer is not declared under `consumers:`. Default false: the
    /// token's claims describe the caller.
    package var requireKnownConsumer: Bool = false

    package init() {}
}

/// A verification key written in the config.
package struct JWTStaticKey: Sendable {
    package enum Material: Sendable {
        /// HS256/384/512.
        case secret(String)
        /// RS*/PS*/ES* public key, PEM.
        case publicKeyPEM(String)
        /// One JWK as JSON text (any key type, EdDSA included).
        case jwk(String)
    }

    package var kid: String?
    package var algorithm: String
    package var material: Material
}

/// `auth.introspection`: the authorization server's RFC 7662 endpoint and the gateway's
/// client credentials for it.
package struct IntrospectionConfig: Sendable {
    package var url: String = ""
    package var clientID: String?
    package var clientSecret: String?
    /// Upper bound on how long an answer is reused (never past the token's `exp`). Default 60 s.
    package var cacheTTL: Duration = .seconds(60)
    /// How long an "inactive" answer is remembered. Default 5 s.
    package var negativeTTL: Duration = .seconds(5)
    package var timeout: Duration = .seconds(5)
    package var caFile: String?
    /// The answer's field that names the consumer. Default `username`, then `sub`, then `client_id`.
    package var consumerClaim: String?
    package var groupsClaim: String?

    package init() {}
}

extension AuthConfig {
    init(reading o: ConfigObject) {
        self.init()
        jwt = o["jwt"].object { JWTAuthConfig(reading: $0) }
        introspection = o["introspection"].object { IntrospectionConfig(reading: $0) }
    }
}

extension JWTAuthConfig {
    static let algorithms: Set<String> = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                          "ES256", "ES384", "ES512", "EdDSA"]

    init(reading o: ConfigObject) {
        self.init()
        let iss = o["issuer"]
        issuers = iss.scalarIfPresent().map { [$0] } ?? iss.list { $0.string() } ?? []
        audiences = o["audiences"].list { $0.string() } ?? []
        jwksURL = o["jwks_url"].string()
        if let u = jwksURL, case .failure(let e) = UpstreamURL.parse(u) { o.problem(at: "jwks_url", "\(e)") }
        jwksRefresh = o["jwks_refresh"].duration() ?? jwksRefresh
        jwksMinRefresh = o["jwks_min_refresh"].duration() ?? jwksMinRefresh
        jwksCAFile = o["jwks_ca_file"].string()
        keys = o["keys"].list { $0.object { k -> JWTStaticKey? in
            let alg = k["algorithm"].requiredString()
            if let alg, !Self.algorithms.contains(alg) {
                k.problem(at: "algorithm", "must be one of \(Self.algorithms.sorted().joined(separator: ", ")) (got \"\(alg)\")")
            }
            var material: JWTStaticKey.Material?
            if let s = k["secret"].string() { material = .secret(s) }
            if let p = k["public_key"].string() { material = .publicKeyPEM(p) }
            if let f = k["public_key_file"].string() {
                if let text = try? String(contentsOfFile: f, encoding: .utf8) { material = .publicKeyPEM(text) } else { k.problem(at: "public_key_file", "cannot be read") }
            }
            if let j = k["jwk"].string() { material = .jwk(j) }
            if material == nil, !k.hasAny(["public_key_file"]) { k.problem("needs one of secret, public_key, public_key_file, jwk") }
            guard let alg, let material else { return nil }
            if case .secret(let secret) = material {
                if !alg.hasPrefix("HS") { k.problem(at: "secret", "is only for HS256/384/512") }
                let bytes = alg == "HS512" ? 64 : alg == "HS384" ? 48 : 32
                if alg.hasPrefix("HS"), secret.utf8.count < bytes { k.problem(at: "secret", "must be at least \(bytes) bytes for \(alg) (RFC 7518 §3.2)") }
            }
            if case .secret = material {} else if alg.hasPrefix("HS") { k.problem(at: "algorithm", "HS* keys need a secret") }
            let key = JWTStaticKey(kid: k["kid"].string(), algorithm: alg, material: material)
            if Self.algorithms.contains(alg) {
                do { _ = try JWTVerificationKey.make(key) } catch { k.problem("\(error)") }
            }
            return key
        } ?? nil } ?? []
        claimsToVerify = o["claims_to_verify"].list { $0.oneOf(Claim.self) } ?? claimsToVerify
        if let seconds = o["maximum_expiration"].int(min: 1, max: 31_536_000) { maximumExpiration = .seconds(seconds) }
        clockSkew = o["clock_skew"].duration() ?? clockSkew
        consumerClaim = o["consumer_claim"].string() ?? consumerClaim
        groupsClaim = o["groups_claim"].string()
        teamClaim = o["team_claim"].string()
        requireKnownConsumer = o["require_known_consumer"].bool() ?? requireKnownConsumer
        if jwksURL == nil, keys.isEmpty, !o.hasAny(["keys"]) { o.problem("needs jwks_url or keys") }
        if maximumExpiration != nil, !claimsToVerify.contains(.exp) {
            o.problem(at: "maximum_expiration", "needs exp in claims_to_verify")
        }
    }
}

extension IntrospectionConfig {
    init(reading o: ConfigObject) {
        self.init()
        url = o["url"].requiredString() ?? ""
        if !url.isEmpty, case .failure(let e) = UpstreamURL.parse(url) { o.problem(at: "url", "\(e)") }
        clientID = o["client_id"].string()
        clientSecret = o["client_secret"].string()
        cacheTTL = o["cache_ttl"].duration() ?? cacheTTL
        negativeTTL = o["negative_ttl"].duration() ?? negativeTTL
        timeout = o["timeout"].duration() ?? timeout
        caFile = o["ca_file"].string()
        consumerClaim = o["consumer_claim"].string()
        groupsClaim = o["groups_claim"].string()
    }
}
