import Foundation
import Testing

@testable import SemanticCache

@Suite struct AnswerCacheTests {
    func answer(_ text: String, cost: Int64 = 1_250) -> CachedAnswer {
        CachedAnswer(body: Array("{\"text\":\"\(text)\"}".utf8), provider: "openai", servedModel: "gpt-4o", inputTokens: 10, outputTokens: 5, costMicros: cost)
    }

    /// A unit vector along axis `i` of 8, tilted towards axis `j` by `t`.
    func vector(_ i: Int, towards j: Int = 0, by t: Float = 0) -> [Float] {
        var v = [Float](repeating: 0, count: 8)
        v[i] = 1
        v[j] += t
        return v
    }

    let growth = CacheScope(tenant: "growth", model: "smart", systemPrompt: "s1", parameters: "p1")

    @Test func exactThenSemanticHitsWithinTheThreshold() {
        let cache = AnswerCache(.init(threshold: 0.95))
        cache.store(answer("paris"), exactKey: "k1", scope: growth, vector: vector(1), now: 0)
        #expect(cache.lookup(exactKey: "k1", now: 10) == answer("paris"))
        #expect(cache.lookup(exactKey: "k2", now: 10) == nil)
        // cos = 1/sqrt(1.01) = 0.995: a paraphrase.
        let near = cache.lookup(scope: growth, vector: vector(1, towards: 2, by: 0.1), now: 10)
        #expect(near?.0 == answer("paris") && abs((near?.similarity ?? 0) - 0.995) < 0.001)
        // cos = 1/sqrt(1.25) = 0.894: a different question.
        #expect(cache.lookup(scope: growth, vector: vector(1, towards: 2, by: 0.5), now: 10) == nil)
    }

    @Test func scopesNeverShareAnEntry() {
        let cache = AnswerCache(.init())
        cache.store(answer("growth's"), exactKey: "growth|q", scope: growth, vector: vector(3), now: 0)
        for other in [CacheScope(tenant: "platform", model: "smart", systemPrompt: "s1", parameters: "p1"),
                      CacheScope(tenant: "growth", model: "cheap", systemPrompt: "s1", parameters: "p1"),
                      CacheScope(tenant: "growth", model: "smart", systemPrompt: "s2", parameters: "p1"),
                      CacheScope(tenant: "growth", model: "smart", systemPrompt: "s1", parameters: "p2")] {
            #expect(cache.lookup(scope: other, vector: vector(3), now: 1) == nil)
            cache.store(answer("theirs"), exactKey: "\(other)|q", scope: other, vector: vector(3), now: 1)
        }
        #expect(cache.lookup(scope: growth, vector: vector(3), now: 2)?.0 == answer("growth's"))
        #expect(cache.stats.indexes == 5)
    }

    @Test func entriesExpireAndTheOldestIsEvictedAtTheBound() {
        let cache = AnswerCache(.init(exactTTLMillis: 1_000, semanticTTLMillis: 5_000, maxEntries: 3))
        cache.store(answer("a"), exactKey: "a", scope: growth, vector: vector(0), now: 0)
        #expect(cache.lookup(exactKey: "a", now: 999) != nil)
        #expect(cache.lookup(exactKey: "a", now: 1_000) == nil)  // exact TTL over
        #expect(cache.lookup(scope: growth, vector: vector(0), now: 4_999) != nil)  // semantic TTL not yet
        #expect(cache.lookup(scope: growth, vector: vector(0), now: 5_000) == nil)
        #expect(cache.expire(now: 5_000) == 1 && cache.count == 0)
        for (i, k) in ["b", "c", "d", "e"].enumerated() { cache.store(answer(k), exactKey: k, scope: growth, vector: vector(i + 1), now: 10) }
        #expect(cache.count == 3)
        #expect(cache.lookup(exactKey: "b", now: 11) == nil)  // the oldest went first
        #expect(cache.lookup(scope: growth, vector: vector(1), now: 11) == nil)
        #expect(cache.lookup(exactKey: "e", now: 11) != nil)
        // Storing the same key again replaces, it does not add.
        cache.store(answer("e2"), exactKey: "e", scope: growth, vector: vector(4), now: 12)
        #expect(cache.count == 3 && cache.lookup(exactKey: "e", now: 13) == answer("e2"))
    }

    /// A huge answer is not kept, and the answers together stay under their byte bound.
    @Test func answersAreBoundedPerEntryAndInTotal() {
        let size = answer("x").body.count
        let cache = AnswerCache(.init(maxEntryBytes: size + 10, maxTotalBytes: 3 * size))
        #expect(!cache.store(answer(String(repeating: "y", count: 12)), exactKey: "big", scope: growth, vector: vector(0), now: 0))
        #expect(cache.count == 0 && cache.lookup(exactKey: "big", now: 1) == nil)
        for k in ["a", "b", "c", "d"] { #expect(cache.store(answer(k), exactKey: k, scope: growth, vector: nil, now: 0)) }
        #expect(cache.count == 3 && cache.lookup(exactKey: "a", now: 1) == nil && cache.lookup(exactKey: "d", now: 1) != nil)
        #expect(cache.purge(tenant: nil, model: nil) == 3)
        for k in ["e", "f", "g"] { cache.store(answer(k), exactKey: k, scope: growth, vector: nil, now: 0) }
        #expect(cache.count == 3)  // the bytes freed by the purge are counted free
    }

    /// A tenant of team and consumer together ("team:a/consumer:b") is purged by either.
    @Test func purgeMatchesAnyPartOfACompoundTenant() {
        let cache = AnswerCache(.init())
        cache.store(answer("1"), exactKey: "1", scope: CacheScope(tenant: "team:a/consumer:b", model: "m"), vector: nil, now: 0)
        cache.store(answer("2"), exactKey: "2", scope: CacheScope(tenant: "team:ab", model: "m"), vector: nil, now: 0)
        #expect(cache.purge(tenant: "consumer:b", model: nil) == 1 && cache.purge(tenant: "team:a", model: nil) == 0)
        #expect(cache.purge(tenant: "team:ab", model: nil) == 1)
    }

    @Test func purgeByTenantAndModel() {
        let cache = AnswerCache(.init())
        let scopes = [growth, CacheScope(tenant: "growth", model: "cheap"), CacheScope(tenant: "platform", model: "smart")]
        for (i, s) in scopes.enumerated() { cache.store(answer("\(i)"), exactKey: "\(i)", scope: s, vector: vector(i), now: 0) }
        #expect(cache.purge(tenant: "growth", model: "cheap") == 1)
        #expect(cache.purge(tenant: nil, model: "smart") == 2)
        #expect(cache.count == 0 && cache.stats.indexes == 0)
    }

    @Test func aVectorOfAnotherLengthIsKeptExactOnly() {
        let cache = AnswerCache(.init())
        cache.store(answer("a"), exactKey: "a", scope: growth, vector: vector(0), now: 0)
        cache.store(answer("b"), exactKey: "b", scope: growth, vector: [1, 0, 0], now: 0)
        #expect(cache.lookup(exactKey: "b", now: 1) == answer("b"))
        #expect(cache.lookup(scope: growth, vector: [1, 0, 0], now: 1) == nil)
        #expect(cache.lookup(scope: growth, vector: vector(0), now: 1)?.0 == answer("a"))
    }

    @Test func concurrentStoresLookupsAndPurges() async {
        let cache = AnswerCache(.init(threshold: 0.99, maxEntries: 10_000))
        let scopes = (0..<4).map { CacheScope(tenant: "t\($0)", model: "smart") }
        @Sendable func v(_ i: Int) -> [Float] {  // a fixed random vector per i
            var g = TestVectors(state: UInt64(i) &* 0x9E37_79B9)
            return g.random(1, dim: 16)[0]
        }
        await withTaskGroup(of: Void.self) { group in
            for (s, scope) in scopes.enumerated() {
                group.addTask {
                    for i in 0..<300 { cache.store(self.answer("\(s)-\(i)"), exactKey: "\(s)-\(i)", scope: scope, vector: v(i), now: 0) }
                }
            }
            for _ in 0..<2 {
                group.addTask {
                    for i in 0..<600 {
                        if let (a, _) = cache.lookup(scope: scopes[i % 4], vector: v(i % 300), now: 1) {
                            #expect(String(decoding: a.body, as: UTF8.self).contains("\"\(i % 4)-"))  // never another scope's
                        }
                    }
                }
            }
            group.addTask { for _ in 0..<20 { cache.purge(tenant: "t3", model: nil) } }
        }
        cache.purge(tenant: "t3", model: nil)
        #expect(cache.count == 900)
        // Every entry left is found by its own vector.
        for s in 0..<3 {
            for i in stride(from: 0, to: 300, by: 37) {
                #expect(cache.lookup(scope: scopes[s], vector: v(i), now: 2)?.0 == answer("\(s)-\(i)"))
            }
        }
    }

    @Test func snapshotKeepsEntriesAndIndexesAcrossARestart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let options = AnswerCache.Options(exactTTLMillis: 1_000, semanticTTLMillis: 10_000)
        let cache = AnswerCache(options)
        cache.store(answer("old"), exactKey: "old", scope: growth, vector: nil, now: 0)  // expires before the load
        cache.store(answer("kept"), exactKey: "kept", scope: growth, vector: vector(5), now: 900)
        try cache.save(to: dir)
        let loaded = try AnswerCache.load(from: dir, options: options, now: 1_500)
        #expect(loaded.count == 1)
        #expect(loaded.lookup(exactKey: "kept", now: 1_800) == answer("kept"))
        #expect(loaded.lookup(scope: growth, vector: vector(5, towards: 6, by: 0.05), now: 1_800)?.0 == answer("kept"))
        loaded.store(answer("new"), exactKey: "new", scope: growth, vector: vector(6), now: 2_000)
        #expect(loaded.count == 2)
    }
}
