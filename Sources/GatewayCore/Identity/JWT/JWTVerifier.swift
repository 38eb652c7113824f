/// Why a JWT was refused, in words fit for a 401's `error_description` and a metric label.
package enum JWTRejection: Error, Equatable, Sendable {
    case malformed(String)
    /// `alg: none`, or one no key here can verify.
    case algorithmNotAllowed(String)
    /// The token names a key this verifier has not seen (yet).
    case unknownKey(String)
    case badSignature
    case expired
    case notYetValid
    case missingClaim(String)
    case expiresTooLate
    case wrongIssuer
    case wrongAudience

    package var description: String {
        switch self {
        case .malformed(let why): return "malformed token: \(why)"
        case .algorithmNotAllowed(let alg): return "algorithm \(alg) is not accepted"
        case .unknownKey(let kid): return "unknown signing key \"\(kid)\""
        case .badSignature: return "signature does not verify"
        case .expired: return "token has expired"
        case .notYetValid: return "token is not valid yet"
        case .missingClaim(let c): return "token lacks the \(c) claim"
        case .expiresTooLate: return "token expires too far in the future"
        case .wrongIssuer: return "token has the wrong issuer"
        case .wrongAudience: return "token has the wrong audience"
        }
    }

    var isUnknownKey: Bool { if case .unknownKey = self { return true } else { return false } }

    /// A short, bounded label for the auth-failure metric.
    package var reason: String {
        switch self {
        case .malformed: return "malformed"
        case .algorithmNotAllowed: return "algorithm"
        case .unknownKey: return "unknown_key"
        case .badSignature: return "signature"
        case .expired: return "expired"
        case .notYetValid: return "not_yet_valid"
        case .missingClaim: return "missing_claim"
        case .expiresTooLate: return "expires_too_late"
        case .wrongIssuer: return "issuer"
        case .wrongAudience: return "audience"
        }
    }
}

/// Verifies a compact JWS: structure, header, signature (with a key the token cannot choose the
/// algorithm of), then the registered claims against `auth.jwt`. Pure and synchronous: the key
/// set and the wall-clock time come in as arguments.
package struct JWTVerifier: Sendable {
    let config: JWTAuthConfig

    package init(config: JWTAuthConfig) { self.config = config }

    /// The token's payload when everything checks out.
    package func verify(_ token: String, keys: JWTKeySet, nowSeconds: Int64) -> Result<JSONValue, JWTRejection> {
        verifySignature(token, keys: keys).flatMap { payload in
            if let failure = checkClaims(payload, nowSeconds: nowSeconds) { return .failure(failure) }
            return .success(payload)
        }
    }

    /// The payload of a token whose structure, header and signature check out; claims unchecked.
    package func verifySignature(_ token: String, keys: JWTKeySet) -> Result<JSONValue, JWTRejection> {
        let bytes = Array(token.utf8)
        guard let dot1 = bytes.firstIndex(of: UInt8(ascii: ".")),
              let dot2 = bytes[(dot1 + 1)...].firstIndex(of: UInt8(ascii: ".")),
              !bytes[(dot2 + 1)...].contains(UInt8(ascii: ".")) else {
            return .failure(.malformed("not three dot-separated parts"))
        }
        guard let headerBytes = Base64URL.decode(bytes[..<dot1]),
              let header = try? JSONParser.parse(headerBytes), case .object = header else {
            return .failure(.malformed("header is not base64url JSON"))
        }
        guard let alg = header["alg"]?.stringValue else { return .failure(.malformed("header has no alg")) }
        if alg.lowercased() == "none" { return .failure(.algorithmNotAllowed(alg)) }
        if let crit = header["crit"], crit != .array([]) {
            // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
            return .failure(.malformed("unsupported crit header"))
        }
        let kid = header["kid"]?.stringValue
        let candidates: [JWTVerificationKey]
        if let kid, !keys.knows(kid: kid) {
            // Keys written without a kid may still have signed it; otherwise the issuer has
            // rotated to a key we have not fetched yet.
            candidates = keys.candidates(kid: nil, algorithm: alg).filter { $0.kid == nil }
            if candidates.isEmpty { return .failure(.unknownKey(kid)) }
        } else {
            candidates = keys.candidates(kid: kid, algorithm: alg)
            if candidates.isEmpty { return .failure(.algorithmNotAllowed(alg)) }
        }
        guard let signature = Base64URL.decode(bytes[(dot2 + 1)...]) else { return .failure(.malformed("signature is not base64url")) }
        let input = bytes[..<dot2]
        guard candidates.contains(where: { $0.verify(algorithm: alg, signature: signature, input: input) }) else {
            return .failure(.badSignature)
        }
        guard let payloadBytes = Base64URL.decode(bytes[(dot1 + 1)..<dot2]),
              let payload = try? JSONParser.parse(payloadBytes), case .object = payload else {
            return .failure(.malformed("payload is not base64url JSON"))
        }
        return .success(payload)
    }

    func checkClaims(_ payload: JSONValue, nowSeconds now: Int64) -> JWTRejection? {
        let skew = Int64(config.clockSkew.components.seconds)
        let exp = payload["exp"]
        if let exp {
            guard let e = exp.intValue else { return .malformed("exp is not a NumericDate") }
            // Saturating: `exp` is the signer's number, and 2^63-1 plus the skew must not trap.
            if now >= Int64(e).addingSaturating(skew) { return .expired }
            if let max = config.maximumExpiration,
                Int64(e).subtractingSaturating(now) > Int64(max.components.seconds).addingSaturating(skew)
            {
                return .expiresTooLate
            }
        } else if config.claimsToVerify.contains(.exp) {
            return .missingClaim("exp")
        }
        if let nbf = payload["nbf"] {
            guard let n = nbf.intValue else { return .malformed("nbf is not a NumericDate") }
            if now.addingSaturating(skew) < Int64(n) { return .notYetValid }
        } else if config.claimsToVerify.contains(.nbf) {
            return .missingClaim("nbf")
        }
        if !config.issuers.isEmpty {
            guard let iss = payload["iss"]?.stringValue, config.issuers.contains(iss) else { return .wrongIssuer }
        }
        if !config.audiences.isEmpty {
            guard let aud = payload["aud"]?.stringList, aud.contains(where: config.audiences.contains) else { return .wrongAudience }
        }
        return nil
    }
}
