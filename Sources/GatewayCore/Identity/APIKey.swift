import Crypto
import Foundation

/// API keys: `tg-` and 43 base64url characters (256 random bits). Only the SHA-256 of a key is
/// ever stored; the key itself is shown once, when it is made.
package enum APIKey {
    package static let prefix = "tg-"

    /// A new random key (from the system CSPRNG).
    package static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &rng) }
        let b64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return prefix + b64
    }

    /// The stored form of a key.
    package static func hash(_ key: String) -> [UInt8] {
        hash(Substring(key))
    }

    /// The same, from a part of a header: hashed from the string's own bytes, and the digest
    /// copied once (this runs on every request that presents a key).
    package static func hash(_ key: Substring) -> [UInt8] {
        var key = key
        let digest = key.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return digest.withUnsafeBytes { [UInt8]($0) }
    }

    /// Compares two digests in time independent of where they differ.
    package static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        b.withUnsafeBytes { constantTimeEquals(a, $0) }
    }

    /// The same, against a digest's bytes where they lie.
    package static func constantTimeEquals(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// The first characters of a key, safe to show in listings and logs.
    package static func displayPrefix(_ key: String) -> String { String(key.prefix(prefix.count + 6)) }
}
