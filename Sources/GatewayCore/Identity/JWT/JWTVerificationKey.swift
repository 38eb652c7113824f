import Crypto
import CryptoExtras
import Foundation
import JWTKit

/// One key that may verify JWT signatures, bound to the algorithms its type allows, so a token
/// can never choose how its own signature is checked: an HS256 token against an RSA public key
/// (algorithm confusion) finds no key, and `none` is no algorithm at all.
///
/// jwt-kit parses JWKs and key material; the check itself calls swift-crypto directly and
/// synchronously, because jwt-kit's `JWTKeyCollection` is an actor and the data plane never
/// starts a `Task` per request (ARCHITECTURE.md, "The hot path").
package struct JWTVerificationKey: Sendable {
    enum Material: Sendable {
        case hmac(SymmetricKey)
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    package enum Failure: Error, CustomStringConvertible {
        case unsupported(String)
        case invalid(String)
        package var description: String {
            switch self {
            case .unsupported(let m): return "unsupported key: \(m)"
            case .invalid(let m): return "invalid key: \(m)"
            }
        }
    }

    package let kid: String?
    /// The `alg` values this key verifies.
    package let algorithms: Set<String>
    let material: Material

    init(kid: String?, algorithms: Set<String>, material: Material) {
        self.kid = kid
        self.algorithms = algorithms
        self.material = material
    }

    /// Checks `signature` over `input` (the token's `header.payload` bytes) with `algorithm`.
    /// Callers have already checked `algorithms.contains(algorithm)`.
    func verify(algorithm: String, signature: [UInt8], input: ArraySlice<UInt8>) -> Bool {
        switch material {
        case .hmac(let key):
            switch algorithm {
            case "HS256": return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: input, using: key)
            case "HS384": return HMAC<SHA384>.isValidAuthenticationCode(signature, authenticating: input, using: key)
            case "HS512": return HMAC<SHA512>.isValidAuthenticationCode(signature, authenticating: input, using: key)
            default: return false
            }
        case .rsa(let key):
            let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
            let padding: _RSA.Signing.Padding = algorithm.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5
            switch algorithm.suffix(3) {
            case "256": return key.isValidSignature(sig, for: SHA256.hash(data: input), padding: padding)
            case "384": return key.isValidSignature(sig, for: SHA384.hash(data: input), padding: padding)
            case "512": return key.isValidSignature(sig, for: SHA512.hash(data: input), padding: padding)
            default: return false
            }
        case .p256(let key):
            guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: SHA256.hash(data: input))
        case .p384(let key):
            guard let sig = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: SHA384.hash(data: input))
        case .p521(let key):
            guard let sig = try? P521.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: SHA512.hash(data: input))
        case .ed25519(let key):
            return key.isValidSignature(signature, for: input)
        }
    }

    /// A key written in the config.
    package static func make(_ key: JWTStaticKey) throws -> JWTVerificationKey {
        switch key.material {
        case .secret(let secret):
            return JWTVerificationKey(kid: key.kid, algorithms: [key.algorithm], material: .hmac(SymmetricKey(data: Array(secret.utf8))))
        case .jwk(let json):
            var k = try make(JWK(json: json))
            if k.kid == nil, let kid = key.kid { k = JWTVerificationKey(kid: kid, algorithms: k.algorithms, material: k.material) }
            return JWTVerificationKey(kid: k.kid, algorithms: k.algorithms.intersection([key.algorithm]), material: k.material)
        case .publicKeyPEM(let pem):
            let alg = key.algorithm
            let material: Material
            do {
                switch alg {
                case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512": material = .rsa(try _RSA.Signing.PublicKey(pemRepresentation: pem))
                case "ES256": material = .p256(try P256.Signing.PublicKey(pemRepresentation: pem))
                case "ES384": material = .p384(try P384.Signing.PublicKey(pemRepresentation: pem))
                case "ES512": material = .p521(try P521.Signing.PublicKey(pemRepresentation: pem))
                default: throw Failure.unsupported("\(alg) keys are given as a jwk, not PEM")
                }
            } catch let e as Failure {
                throw e
            } catch {
                throw Failure.invalid("\(alg) public key: \(error)")
            }
            return JWTVerificationKey(kid: key.kid, algorithms: [alg], material: material)
        }
    }

    /// A public key from a JWK (jwt-kit's model of RFC 7517). A JWK without `alg` verifies
    /// every algorithm of its key type.
    package static func make(_ jwk: JWK) throws -> JWTVerificationKey {
        let kid = jwk.keyIdentifier?.string
        let declared = jwk.algorithm?.rawValue
        func restricted(_ all: Set<String>) throws -> Set<String> {
            guard let declared else { return all }
            guard all.contains(declared) else { throw Failure.invalid("alg \(declared) does not fit key type \(jwk.keyType.rawValue)") }
            return [declared]
        }
        switch jwk.keyType {
        case .rsa:
            guard let n = jwk.modulus.flatMap(Base64URL.decode), let e = jwk.exponent.flatMap(Base64URL.decode) else {
                throw Failure.invalid("RSA key without n and e")
            }
            do {
                let key = try _RSA.Signing.PublicKey(n: n, e: e)
                return JWTVerificationKey(kid: kid, algorithms: try restricted(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]), material: .rsa(key))
            } catch let f as Failure {
                throw f
            } catch {
                throw Failure.invalid("RSA key: \(error)")
            }
        case .ecdsa:
            guard let x = jwk.x.flatMap(Base64URL.decode), let y = jwk.y.flatMap(Base64URL.decode) else {
                throw Failure.invalid("EC key without x and y")
            }
            let raw = x + y
            do {
                switch jwk.curve?.rawValue {
                case "P-256": return JWTVerificationKey(kid: kid, algorithms: try restricted(["ES256"]), material: .p256(try P256.Signing.PublicKey(rawRepresentation: raw)))
                case "P-384": return JWTVerificationKey(kid: kid, algorithms: try restricted(["ES384"]), material: .p384(try P384.Signing.PublicKey(rawRepresentation: raw)))
                case "P-521": return JWTVerificationKey(kid: kid, algorithms: try restricted(["ES512"]), material: .p521(try P521.Signing.PublicKey(rawRepresentation: raw)))
                default: throw Failure.unsupported("EC curve \(jwk.curve?.rawValue ?? "none")")
                }
            } catch let f as Failure {
                throw f
            } catch {
                throw Failure.invalid("EC key: \(error)")
            }
        case .octetKeyPair:
            guard jwk.curve?.rawValue == "Ed25519" else { throw Failure.unsupported("OKP curve \(jwk.curve?.rawValue ?? "none")") }
            guard let x = jwk.x.flatMap(Base64URL.decode), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
                throw Failure.invalid("Ed25519 key without a valid x")
            }
            return JWTVerificationKey(kid: kid, algorithms: try restricted(["EdDSA"]), material: .ed25519(key))
        default:
            throw Failure.unsupported("key type \(jwk.keyType.rawValue)")
        }
    }
}

/// The keys a verifier knows at one moment: by `kid`, and all of them for tokens without one.
package struct JWTKeySet: Sendable {
    package let keys: [JWTVerificationKey]
    /// Which fetch of its source this set came from (0: the config's keys alone).
    package let generation: Int
    private let byKid: [String: [JWTVerificationKey]]

    package init(_ keys: [JWTVerificationKey], generation: Int = 0) {
        self.keys = keys
        self.generation = generation
        var byKid: [String: [JWTVerificationKey]] = [:]
        for k in keys { if let kid = k.kid { byKid[kid, default: []].append(k) } }
        self.byKid = byKid
    }

    package static let empty = JWTKeySet([])

    package func knows(kid: String) -> Bool { byKid[kid] != nil }

    /// Keys that could have signed a token with this header.
    func candidates(kid: String?, algorithm: String) -> [JWTVerificationKey] {
        let pool = kid.map { byKid[$0] ?? [] } ?? keys
        return pool.filter { $0.algorithms.contains(algorithm) }
    }

    /// Parses a JWKS document: every usable key; keys of unknown types or with bad values are
    /// skipped and named in `skipped` (one bad key must not take the issuer's others down).
    package static func parseJWKS(_ body: [UInt8]) throws -> (keys: [JWTVerificationKey], skipped: [String]) {
        let doc = try JSONParser.parse(body)
        guard let list = doc["keys"]?.arrayValue else { throw JWTVerificationKey.Failure.invalid("a JWKS needs a keys array") }
        var keys: [JWTVerificationKey] = []
        var skipped: [String] = []
        for item in list {
            if let use = item["use"]?.stringValue, use != "sig" { continue }
            do {
                keys.append(try JWTVerificationKey.make(JWK(json: item.text)))
            } catch {
                skipped.append("\(item["kid"]?.stringValue ?? "(no kid)"): \(error)")
            }
        }
        return (keys, skipped)
    }
}
