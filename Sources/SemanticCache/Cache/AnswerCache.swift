import DequeModule
import Foundation

/// Cached LLM answers: an exact map (the normalized request's hash) and, per scope, a vector
/// index of the questions' embeddings. Entries expire (`exactTTL`, `semanticTTL`) and are
/// bounded (`maxEntries`, oldest evicted first). Thread-safe; lookups share a lock with each
/// other, stores take it alone. Time comes from the caller (`now`, unix ms), so tests control
/// it. `save(to:)`/`load(from:)` keep everything across a restart.
package final class AnswerCache: @unchecked Sendable {
    package struct Options: Sendable, Equatable {
        package var exactTTLMillis: Int64
        package var semanticTTLMillis: Int64
        /// Cosine similarity at or above which a stored question counts as the same.
        package var threshold: Float
        package var maxEntries: Int
        package var storage: VectorIndex.Storage
        /// An answer larger than this is not kept (one 300 MB answer must not be replayed).
        package var maxEntryBytes: Int
        /// The answers' bytes together at most; the oldest go first.
        package var maxTotalBytes: Int

        package init(exactTTLMillis: Int64 = 3_600_000, semanticTTLMillis: Int64 = 86_400_000, threshold: Float = 0.92,
                    maxEntries: Int = 1_000_000, storage: VectorIndex.Storage = .float32,
                    maxEntryBytes: Int = 1 << 20, maxTotalBytes: Int = 256 << 20) {
            self.exactTTLMillis = exactTTLMillis
            self.semanticTTLMillis = semanticTTLMillis
            self.threshold = threshold
            self.maxEntries = maxEntries
            self.storage = storage
            self.maxEntryBytes = maxEntryBytes
            self.maxTotalBytes = maxTotalBytes
        }
    }

    package enum Hit: Sendable, Equatable {
        case exact(CachedAnswer)
        case semantic(CachedAnswer, similarity: Float)

        package var answer: CachedAnswer {
            switch self {
            case .exact(let a), .semantic(let a, _): return a
            }
        }
    }

    struct Entry: Codable {
        var id: UInt64
        var scope: CacheScope
        var exactKey: String
        var answer: CachedAnswer
        var exactExpiresAt: Int64
        /// Zero when the entry has no vector.
        var semanticExpiresAt: Int64
    }

    package let options: Options
    private var entries: [UInt64: Entry] = [:]
    private var exact: [String: UInt64] = [:]
    private var indexes: [CacheScope: VectorIndex] = [:]
    /// Ids in insertion order (some may be gone already): eviction takes the front.
    private var order = Deque<UInt64>()
    /// The kept answers' bytes together.
    private var totalBytes = 0
    private var nextID: UInt64 = 1
    private let lock = ReadWriteLock()

    package init(_ options: Options) { self.options = options }

    package var count: Int { lock.reading { entries.count } }

    // MARK: Lookups

    /// The answer stored for exactly this request, if still fresh.
    package func lookup(exactKey: String, now: Int64) -> CachedAnswer? {
        lock.reading {
            guard let id = exact[exactKey], let e = entries[id], e.exactExpiresAt > now else { return nil }
            return e.answer
        }
    }

    /// The fresh answer in `scope` whose question is most similar to `vector`, if at or above
    /// the threshold.
    package func lookup(scope: CacheScope, vector: [Float], now: Int64) -> (CachedAnswer, similarity: Float)? {
        // The search holds only its index's lock, so stores elsewhere go on meanwhile.
        guard let index = lock.reading({ indexes[scope] }), index.options.dimensions == vector.count,
              let found = try? index.search(vector, k: 4) else { return nil }
        return lock.reading {
            for match in found where match.similarity >= options.threshold {
                if let e = entries[match.key], e.semanticExpiresAt > now, e.scope == scope { return (e.answer, match.similarity) }
            }
            return nil
        }
    }

    // MARK: Stores

    /// Keeps an answer under its exact key and, with a vector, in its scope's index. A vector
    /// whose length differs from the scope's index is kept exact-only (the embedding model
    /// changed): the index is never mixed. The graph insert, the slow part (about a millisecond
    /// at a million entries), holds only that index's lock: exact lookups and other scopes go on.
    /// Keeps `answer`; false (nothing kept) when it is larger than `maxEntryBytes`.
    @discardableResult
    package func store(_ answer: CachedAnswer, exactKey: String, scope: CacheScope, vector: [Float]?, now: Int64) -> Bool {
        guard answer.body.count <= options.maxEntryBytes else { return false }
        let (id, index) = lock.writing { () -> (UInt64, VectorIndex?) in
            if let old = exact[exactKey] { remove(old) }
            while entries.count >= options.maxEntries || totalBytes + answer.body.count > options.maxTotalBytes,
                  let oldest = order.popFirst() {
                remove(oldest)
            }
            let id = nextID
            nextID += 1
            entries[id] = Entry(id: id, scope: scope, exactKey: exactKey, answer: answer, exactExpiresAt: now + options.exactTTLMillis, semanticExpiresAt: 0)
            totalBytes += answer.body.count
            exact[exactKey] = id
            order.append(id)
            guard let vector, !vector.isEmpty else { return (id, nil) }
            let index = indexes[scope] ?? VectorIndex(.init(dimensions: vector.count, storage: options.storage, maxEntries: options.maxEntries))
            guard index.options.dimensions == vector.count else { return (id, nil) }
            indexes[scope] = index
            return (id, index)
        }
        guard let index, let vector, (try? index.insert(key: id, vector: vector)) != nil else { return true }
        lock.writing {
            // Searchable from here, unless the entry went meanwhile (evicted, replaced, purged)
            // or its scope's index was dropped and another made.
            guard entries[id] != nil, indexes[scope] === index || indexes[scope] == nil else {
                index.remove(key: id)
                return
            }
            indexes[scope] = index
            entries[id]!.semanticExpiresAt = now + options.semanticTTLMillis
        }
        return true
    }

    private func remove(_ id: UInt64) {
        guard let e = entries.removeValue(forKey: id) else { return }
        totalBytes -= e.answer.body.count
        if exact[e.exactKey] == id { exact[e.exactKey] = nil }
        if e.semanticExpiresAt > 0, let index = indexes[e.scope] {
            index.remove(key: id)
            if index.count == 0 { indexes[e.scope] = nil }
        }
    }

    /// Removes every entry both of whose lifetimes have passed; returns how many. The TTLs are
    /// the same for every entry, so entries expire in the order they came: this walks only the
    /// expired front of the queue, and lookups wait for no scan.
    @discardableResult
    package func expire(now: Int64) -> Int {
        lock.writing {
            var removed = 0
            while let first = order.first {
                guard let e = entries[first] else {
                    order.removeFirst()  // already replaced, purged or evicted
                    continue
                }
                guard max(e.exactExpiresAt, e.semanticExpiresAt) <= now else { break }
                order.removeFirst()
                remove(first)
                removed += 1
            }
            return removed
        }
    }

    /// Removes the entries of a tenant and/or model (nil matches any); returns how many.
    @discardableResult
    package func purge(tenant: String?, model: String?) -> Int {
        lock.writing {
            // A tenant is one name or several joined by "/" (team and consumer): any matches.
            let gone = entries.values.filter { e in
                (tenant == nil || e.scope.tenant == tenant || e.scope.tenant.split(separator: "/").contains { $0 == tenant! })
                    && (model == nil || e.scope.model == model)
            }.map(\.id)
            gone.forEach(remove)
            return gone.count
        }
    }

    /// Entries and the vector indexes' bytes, for the metrics.
    package var stats: (entries: Int, indexes: Int, indexBytes: Int) {
        lock.reading { (entries.count, indexes.count, indexes.values.reduce(0) { $0 + $1.memoryBytes }) }
    }

    // MARK: Snapshot

    /// Writes `entries.json` and one index file per scope into `directory`.
    package func save(to directory: String) throws {
        try lock.reading { () throws in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var scopes: [CacheScope] = []
            for (i, (scope, index)) in indexes.enumerated() {
                try index.save(to: "\(directory)/index-\(i).tgvi")
                scopes.append(scope)
            }
            let snapshot = Snapshot(nextID: nextID, entries: order.compactMap { entries[$0] }, scopes: scopes)
            let temporary = "\(directory)/entries.json.tmp"
            try JSONEncoder().encode(snapshot).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, "\(directory)/entries.json") == 0 else { throw VectorIndex.Failure.snapshot("cannot write entries.json") }
        }
    }

    /// Reads what `save(to:)` wrote; entries already expired at `now` are dropped.
    package static func load(from directory: String, options: Options, now: Int64) throws -> AnswerCache {
        let cache = AnswerCache(options)
        let snapshot = try JSONDecoder().decode(Snapshot.self, from: Data(contentsOf: URL(fileURLWithPath: "\(directory)/entries.json")))
        for (i, scope) in snapshot.scopes.enumerated() {
            cache.indexes[scope] = try VectorIndex.load(from: "\(directory)/index-\(i).tgvi")
        }
        cache.nextID = snapshot.nextID
        for e in snapshot.entries {
            cache.entries[e.id] = e
            cache.exact[e.exactKey] = e.id
            cache.order.append(e.id)
            cache.totalBytes += e.answer.body.count
        }
        cache.expire(now: now)
        return cache
    }

    struct Snapshot: Codable {
        var nextID: UInt64
        var entries: [Entry]
        var scopes: [CacheScope]
    }
}
