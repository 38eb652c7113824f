import Crypto
import NIOConcurrencyHelpers

/// The active API keys, in memory, for the request path: a lookup hashes the presented key once
/// and compares digests in constant time; the store is never queried per request. The index is
/// replaced whole when the store changes (`KeyIndexRefresher`).
package final class KeyIndex: Sendable {
    package struct Entry: Sendable {
        package var id: String
        package var consumer: String
        package var digest: [UInt8]

        package init(id: String, consumer: String, digest: [UInt8]) {
            self.id = id
            self.consumer = consumer
            self.digest = digest
        }
    }

    /// Buckets by the digest's first 8 bytes: finding the bucket reveals nothing usable, and the
    /// full 32-byte comparison inside it is constant-time.
    private let buckets = NIOLockedValueBox<[UInt64: [Entry]]>([:])

    package init() {}

    package func replace(with entries: [Entry]) {
        var map: [UInt64: [Entry]] = [:]
        for e in entries { map[Self.bucket(e.digest), default: []].append(e) }
        buckets.withLockedValue { $0 = map }
    }

    package var count: Int { buckets.withLockedValue { $0.values.reduce(0) { $0 + $1.count } } }

    /// The key's entry, if it is active.
    package func lookup(key: String) -> Entry? {
        lookup(key: Substring(key))
    }

    package func lookup(key: Substring) -> Entry? {
        // The digest stays on the stack: this runs on every request that presents a key.
        var key = key
        let digest = key.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return digest.withUnsafeBytes { d in
            let candidates = buckets.withLockedValue { $0[Self.bucket(d)] } ?? []
            var found: Entry?
            for c in candidates where APIKey.constantTimeEquals(c.digest, d) { found = c }
            return found
        }
    }

    static func bucket<Digest: Collection<UInt8>>(_ digest: Digest) -> UInt64 {
        digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
