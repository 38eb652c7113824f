import Crypto
import CryptoExtras
import Foundation
import JWTKit
import NIOConcurrencyHelpers
import Testing

@testable import GatewayCore

/// Tokens are minted by jwt-kit (the library the field uses) and verified by our synchronous
/// verifier, with a fixed clock.
struct TestClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var groups: [String]?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

let jwtNow: Int64 = 1_800_000_000

func claims(sub: String = "web-app", exp: Int64? = jwtNow + 600, nbf: Int64? = nil, iss: String? = "https://auth.example.com/",
            aud: [String]? = ["triplegate"], groups: [String]? = ["group-user"]) -> TestClaims {
    TestClaims(sub: .init(value: sub), exp: exp.map { .init(value: Date(timeIntervalSince1970: TimeInterval($0))) },
               nbf: nbf.map { .init(value: Date(timeIntervalSince1970: TimeInterval($0))) }, iss: iss.map { .init(value: $0) },
               aud: aud.map { .init(value: $0) }, groups: groups)
}

/// Keys of every supported family, with the public halves as JWKs.
struct KeyRing {
    let signer = JWTKeyCollection()
    var jwks: [String] = []
    let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    let p256 = P256.Signing.PrivateKey()
    let p384 = P384.Signing.PrivateKey()
    let ed = Curve25519.Signing.PrivateKey()

    static func make() async throws -> KeyRing {
        var ring = KeyRing()
        let rsaKey = try Insecure.RSA.PrivateKey(backing: ring.rsa)
        await ring.signer.add(hmac: "top-secret-shared-key-that-is-64-bytes-long-for-HS512-0123456789", digestAlgorithm: .sha256, kid: "hs256")
        await ring.signer.add(hmac: "top-secret-shared-key-that-is-64-bytes-long-for-HS512-0123456789", digestAlgorithm: .sha384, kid: "hs384")
        await ring.signer.add(hmac: "top-secret-shared-key-that-is-64-bytes-long-for-HS512-0123456789", digestAlgorithm: .sha512, kid: "hs512")
        await ring.signer.add(rsa: rsaKey, digestAlgorithm: .sha256, kid: "rs256")
        await ring.signer.add(rsa: rsaKey, digestAlgorithm: .sha384, kid: "rs384")
        await ring.signer.add(rsa: rsaKey, digestAlgorithm: .sha512, kid: "rs512")
        await ring.signer.add(pss: rsaKey, digestAlgorithm: .sha256, kid: "ps256")
        await ring.signer.add(ecdsa: try ES256PrivateKey(backing: ring.p256), kid: "es256")
        await ring.signer.add(ecdsa: try ES384PrivateKey(backing: ring.p384), kid: "es384")
        await ring.signer.add(eddsa: EdDSA.PrivateKey(backing: ring.ed), kid: "eddsa")
        let prims = try ring.rsa.publicKey.getKeyPrimitives()
        let n = Base64URL.encode(Array(prims.modulus)), e = Base64URL.encode(Array(prims.publicExponent))
        for (kid, alg) in [("rs256", "RS256"), ("rs384", "RS384"), ("rs512", "RS512"), ("ps256", "PS256")] {
            ring.jwks.append(#"{"kty":"RSA","kid":"\#(kid)","alg":"\#(alg)","use":"sig","n":"\#(n)","e":"\#(e)"}"#)
        }
        let p = Array(ring.p256.publicKey.rawRepresentation), q = Array(ring.p384.publicKey.rawRepresentation)
        ring.jwks.append(#"{"kty":"EC","kid":"es256","crv":"P-256","x":"\#(Base64URL.encode(Array(p[..<32])))","y":"\#(Base64URL.encode(Array(p[32...])))"}"#)
        ring.jwks.append(#"{"kty":"EC","kid":"es384","crv":"P-384","x":"\#(Base64URL.encode(Array(q[..<48])))","y":"\#(Base64URL.encode(Array(q[48...])))"}"#)
        ring.jwks.append(#"{"kty":"OKP","kid":"eddsa","crv":"Ed25519","x":"\#(Base64URL.encode(Array(ring.ed.publicKey.rawRepresentation)))"}"#)
        return ring
    }

    var jwksDocument: String { #"{"keys":[\#(jwks.joined(separator: ","))]}"# }

    func keySet(withHMAC: Bool = true) throws -> JWTKeySet {
        var keys = try JWTKeySet.parseJWKS(Array(jwksDocument.utf8)).keys
        if withHMAC {
            for (kid, alg) in [("hs256", "HS256"), ("hs384", "HS384"), ("hs512", "HS512")] {
                keys.append(try JWTVerificationKey.make(JWTStaticKey(kid: kid, algorithm: alg, material: .secret("top-secret-shared-key-that-is-64-bytes-long-for-HS512-0123456789"))))
            }
        }
        return JWTKeySet(keys)
    }

    func sign(_ c: TestClaims, kid: String) async throws -> String {
        try await signer.sign(c, kid: JWKIdentifier(string: kid))
    }
}

func jwtConfig() -> JWTAuthConfig {
    var c = JWTAuthConfig()
    c.issuers = ["https://auth.example.com/"]
    c.audiences = ["triplegate"]
    c.groupsClaim = "groups"
    c.maximumExpiration = .seconds(3600)
    return c
}

/// A token built by hand (for `alg: none` and forged headers).
func handmade(header: String, payload: String, signature: [UInt8] = []) -> String {
    Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8)) + "." + Base64URL.encode(signature)
}

@Suite struct JWTVerifierTests {
    @Test func everyAlgorithmVerifies() async throws {
        let ring = try await KeyRing.make()
        let keys = try ring.keySet()
        let verifier = JWTVerifier(config: jwtConfig())
        for kid in ["hs256", "hs384", "hs512", "rs256", "rs384", "rs512", "ps256", "es256", "es384", "eddsa"] {
            let token = try await ring.sign(claims(), kid: kid)
            let result = verifier.verify(token, keys: keys, nowSeconds: jwtNow)
            guard case .success(let payload) = result else { Issue.record("\(kid): \(result)"); continue }
            #expect(payload["sub"]?.stringValue == "web-app")
            #expect(payload["groups"]?.stringList == ["group-user"])
        }
    }

    @Test func timeClaims() async throws {
        let ring = try await KeyRing.make()
        let keys = try ring.keySet()
        let verifier = JWTVerifier(config: jwtConfig())
        func check(_ c: TestClaims) async throws -> Result<JSONValue, JWTRejection> {
            verifier.verify(try await ring.sign(c, kid: "es256"), keys: keys, nowSeconds: jwtNow)
        }
        #expect(try await check(claims(exp: jwtNow - 31)) == .failure(.expired))
        // Within the 30 s default skew, a just-expired token still passes.
        #expect(try await check(claims(exp: jwtNow - 10)).isSuccess)
        #expect(try await check(claims(nbf: jwtNow + 120)) == .failure(.notYetValid))
        #expect(try await check(claims(nbf: jwtNow + 10)).isSuccess)
        #expect(try await check(claims(exp: nil)) == .failure(.missingClaim("exp")))
        #expect(try await check(claims(exp: jwtNow + 7200)) == .failure(.expiresTooLate))
    }

    /// A validly signed token's time claims are the signer's numbers: extreme ones are judged,
    /// never trap (exp = 2^63-1 plus the skew stopped the process).
    @Test func extremeTimeClaimsAreJudgedWithoutTrapping() throws {
        var config = jwtConfig()
        config.maximumExpiration = nil
        let verifier = JWTVerifier(config: config)
        let strict = JWTVerifier(config: jwtConfig())
        func payload(_ fields: String) throws -> JSONValue {
            try JSONParser.parse("{\"iss\":\"https://auth.example.com/\",\"aud\":\"triplegate\",\(fields)}")
        }
        for exp in ["9223372036854775807", "-9223372036854775808", "1e300", "-1e300", "9007199254740993", "0", "-1"] {
            for nbf in ["9223372036854775807", "-9223372036854775808", "0"] {
                let p = try payload("\"exp\":\(exp),\"nbf\":\(nbf)")
                _ = verifier.checkClaims(p, nowSeconds: jwtNow)
                _ = strict.checkClaims(p, nowSeconds: jwtNow)
                _ = verifier.checkClaims(p, nowSeconds: .max)
                _ = verifier.checkClaims(p, nowSeconds: .min)
            }
        }
        #expect(verifier.checkClaims(try payload("\"exp\":9223372036854775807"), nowSeconds: jwtNow) == nil)
        #expect(strict.checkClaims(try payload("\"exp\":9223372036854775807"), nowSeconds: jwtNow) == .expiresTooLate)
        #expect(verifier.checkClaims(try payload("\"exp\":-9223372036854775808"), nowSeconds: jwtNow) == .expired)
        #expect(verifier.checkClaims(try payload("\"exp\":\"soon\""), nowSeconds: jwtNow) == .malformed("exp is not a NumericDate"))
    }

    @Test func issuerAndAudience() async throws {
        let ring = try await KeyRing.make()
        let keys = try ring.keySet()
        let verifier = JWTVerifier(config: jwtConfig())
        let wrongIss = try await ring.sign(claims(iss: "https://evil.example.com/"), kid: "rs256")
        #expect(verifier.verify(wrongIss, keys: keys, nowSeconds: jwtNow) == .failure(.wrongIssuer))
        let noIss = try await ring.sign(claims(iss: nil), kid: "rs256")
        #expect(verifier.verify(noIss, keys: keys, nowSeconds: jwtNow) == .failure(.wrongIssuer))
        let wrongAud = try await ring.sign(claims(aud: ["other-api"]), kid: "rs256")
        #expect(verifier.verify(wrongAud, keys: keys, nowSeconds: jwtNow) == .failure(.wrongAudience))
        let oneOfMany = try await ring.sign(claims(aud: ["other-api", "triplegate"]), kid: "rs256")
        #expect(verifier.verify(oneOfMany, keys: keys, nowSeconds: jwtNow).isSuccess)
    }

    @Test func badSignatureAndTampering() async throws {
        let ring = try await KeyRing.make()
        let keys = try ring.keySet()
        let verifier = JWTVerifier(config: jwtConfig())
        for kid in ["hs256", "rs256", "ps256", "es256", "eddsa"] {
            let token = try await ring.sign(claims(), kid: kid)
            let parts = token.split(separator: ".")
            // Same signature, payload claims a different subject.
            let forged = parts[0] + "." + Base64URL.encode(Array(#"{"sub":"ops-console","exp":1800000600}"#.utf8)) + "." + parts[2]
            #expect(verifier.verify(String(forged), keys: keys, nowSeconds: jwtNow) == .failure(.badSignature), "\(kid)")
            // Signature of another token.
            let other = try await ring.sign(claims(sub: "x"), kid: kid).split(separator: ".")[2]
            #expect(verifier.verify(String(parts[0] + "." + parts[1] + "." + other), keys: keys, nowSeconds: jwtNow) == .failure(.badSignature), "\(kid)")
        }
    }

    @Test func algNoneIsRefused() async throws {
        let ring = try await KeyRing.make()
        let keys = try ring.keySet()
        let verifier = JWTVerifier(config: jwtConfig())
        for alg in ["none", "None", "NONE"] {
            let token = handmade(header: #"{"alg":"\#(alg)","typ":"JWT"}"#, payload: #"{"sub":"ops-console","exp":1800000600}"#)
            #expect(verifier.verify(token, keys: keys, nowSeconds: jwtNow) == .failure(.algorithmNotAllowed(alg)))
        }
    }

    @Test func algorithmConfusionIsRefused() async throws {
        let ring = try await KeyRing.make()
        let keys = try ring.keySet(withHMAC: false)
        let verifier = JWTVerifier(config: jwtConfig())
        // The classic attack: HMAC-sign with the RSA public key as the secret, naming the RSA kid.
        let header = #"{"alg":"HS256","kid":"rs256","typ":"JWT"}"#
        let payload = #"{"sub":"ops-console","exp":1800000600,"iss":"https://auth.example.com/","aud":"triplegate"}"#
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        for secret in [ring.rsa.publicKey.pemRepresentation, ring.rsa.publicKey.derRepresentation.base64EncodedString()] {
            let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(secret.utf8)))
            let token = input + "." + Base64URL.encode(Array(mac))
            #expect(verifier.verify(token, keys: keys, nowSeconds: jwtNow) == .failure(.algorithmNotAllowed("HS256")))
        }
        // An RS256 token presented as PS256 or ES256 finds no key either.
        let rs = try await ring.sign(claims(), kid: "rs256").split(separator: ".")
        let asES = Base64URL.encode(Array(#"{"alg":"ES256","kid":"rs256"}"#.utf8)) + "." + rs[1] + "." + rs[2]
        #expect(verifier.verify(asES, keys: keys, nowSeconds: jwtNow) == .failure(.algorithmNotAllowed("ES256")))
    }

    @Test func unknownKidAndMalformed() async throws {
        let ring = try await KeyRing.make()
        let keys = try ring.keySet()
        let verifier = JWTVerifier(config: jwtConfig())
        let rs = try await ring.sign(claims(), kid: "rs256").split(separator: ".")
        let renamed = Base64URL.encode(Array(#"{"alg":"RS256","kid":"rotated-2027"}"#.utf8)) + "." + rs[1] + "." + rs[2]
        #expect(verifier.verify(renamed, keys: keys, nowSeconds: jwtNow) == .failure(.unknownKey("rotated-2027")))
        for junk in ["", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.e30"] {
            guard case .failure(let r) = verifier.verify(junk, keys: keys, nowSeconds: jwtNow) else { Issue.record("accepted \(junk)"); continue }
            #expect([.malformed("not three dot-separated parts"), .malformed("header is not base64url JSON"), .malformed("header has no alg")].contains(r), "\(junk): \(r)")
        }
    }

    @Test func jwksSkipsKeysItCannotUse() throws {
        let doc = #"{"keys":[{"kty":"oct","kid":"sym","k":"AAAA"},{"kty":"EC","kid":"bad","crv":"P-256","x":"AAAA","y":"AAAA"},{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}]}"#
        let parsed = try JWTKeySet.parseJWKS(Array(doc.utf8))
        #expect(parsed.keys.isEmpty)
        #expect(parsed.skipped.count == 2)  // "enc" keys are not signing keys and are left out silently
        #expect(throws: (any Error).self) { try JWTKeySet.parseJWKS(Array(#"{"nokeys":[]}"#.utf8)) }
    }

    @Test func policyMapsClaimsToConsumer() async throws {
        let ring = try await KeyRing.make()
        var auth = jwtConfig()
        auth.keys = [JWTStaticKey(kid: "hs256", algorithm: "HS256", material: .secret("top-secret-shared-key-that-is-64-bytes-long-for-HS512-0123456789"))]
        let source = try JWTKeySource(config: auth)
        let consumers = ["web-app": Consumer(name: "web-app", team: "growth", groups: ["group-base"])]
        let policy = JWTPolicy(config: JWTPolicyConfig(), auth: auth, keys: source, consumers: consumers, clock: WallClock { jwtNow })
        var ctx = PolicyContext(method: .GET, headers: ["authorization": "Bearer \(try await ring.sign(claims(), kid: "hs256"))"],
                                clientIP: nil, service: "s", route: "r", now: 0)
        guard case .proceed = policy.apply(&ctx) else { Issue.record("refused"); return }
        #expect(ctx.consumer == Consumer(name: "web-app", team: "growth", groups: ["group-base", "group-user"]))

        var stranger = PolicyContext(method: .GET, headers: ["authorization": "Bearer \(try await ring.sign(claims(sub: "partner-9"), kid: "hs256"))"],
                                     clientIP: nil, service: "s", route: "r", now: 0)
        guard case .proceed = policy.apply(&stranger) else { Issue.record("refused"); return }
        #expect(stranger.consumer?.name == "partner-9")

        var missing = PolicyContext(method: .GET, headers: [:], clientIP: nil, service: "s", route: "r", now: 0)
        guard case .reject(let p) = policy.apply(&missing) else { Issue.record("accepted"); return }
        #expect(p.status == .unauthorized)
        #expect(p.headers.contains { $0.0 == "www-authenticate" && $0.1.hasPrefix("Bearer") })
    }
}

extension JWTVerifierTests {
    @Test func verifiedTokensAreRememberedButTheirClaimsCheckedEveryTime() async throws {
        let ring = try await KeyRing.make()
        var auth = jwtConfig()
        auth.keys = [JWTStaticKey(kid: "hs256", algorithm: "HS256", material: .secret("top-secret-shared-key-that-is-64-bytes-long-for-HS512-0123456789"))]
        let source = try JWTKeySource(config: auth)
        let now = NIOLockedValueBox(jwtNow)
        let policy = JWTPolicy(config: JWTPolicyConfig(), auth: auth, keys: source, consumers: [:], clock: WallClock { now.withLockedValue { $0 } })
        let token = try await ring.sign(claims(exp: jwtNow + 60), kid: "hs256")
        func run() -> Bool {
            var ctx = PolicyContext(method: .GET, headers: ["authorization": "Bearer \(token)"], clientIP: nil, service: "s", route: "r", now: 0)
            if case .proceed = policy.apply(&ctx) { return true } else { return false }
        }
        #expect(run())
        #expect(source.verifiedPayload(token) != nil)
        #expect(run())
        now.withLockedValue { $0 = jwtNow + 120 }  // past exp + skew: the remembered payload does not help
        #expect(!run())
        // A token whose signature fails is never remembered.
        let parts = token.split(separator: ".")
        let forged = String(parts[0] + "." + Base64URL.encode(Array(#"{"sub":"x","exp":1800000600}"#.utf8)) + "." + parts[2])
        #expect(policy.check(forged, with: source.current(now: 0, on: nil)) == .failure(.badSignature))
        #expect(source.verifiedPayload(forged) == nil)
    }
}

@Suite struct JSONParserTests {
    @Test func parsesWhatJSONAllows() throws {
        let v = try JSONParser.parse(#" {"a":[1,-2.5e3,true,false,null,"x\"\\\/\n\u00e9\ud83d\ude00"],"b":{}} "#)
        #expect(v["a"] == .array([.int(1), .double(-2500), .bool(true), .bool(false), .null, .string("x\"\\/\né😀")]))
        #expect(v["b"] == .object([]))
        #expect(try JSONParser.parse("0") == .int(0))
        #expect(try JSONParser.parse("1.5e300") == .double(1.5e300))
        #expect(try JSONParser.parse("99999999999999999999") == .double(1e20))
    }

    @Test func refusesWhatItDoesNot() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\\x\"", "\"\u{01}\"", "\"\\ud800\"", "{} x", "'a'", "[1 2]"] {
            #expect(throws: JSONParser.Failure.self, "\(bad)") { try JSONParser.parse(bad) }
        }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
    }

    @Test func base64URLRoundTrips() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("ab*c") == nil)
        #expect(Base64URL.decode("YQ==") == Array("a".utf8))
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true } else { return false } }
}
