import CVectorMath
import Foundation

/// An HNSW graph (Malkov & Yashunin, 2016) over cosine similarity: vectors are stored unit
/// length, so similarity is a dot product (`VectorMath`, SIMD). Searches run concurrently
/// with each other; inserts and deletes take the index alone (`ReadWriteLock`). A delete
/// leaves a tombstone that searches pass through but never return; its slot is reused by a
/// later insert. Memory is bounded by `maxEntries`. Vectors are kept as 32-bit floats or,
/// with `.int8`, quantized per vector (a quarter of the memory; the query stays float).
/// `save(to:)` and `load(from:)` keep the graph across restarts.
package final class VectorIndex: @unchecked Sendable {
    package enum Storage: String, Sendable { case float32, int8 }

    package struct Options: Sendable, Equatable {
        package var dimensions: Int
        /// Links per node on the upper layers; twice as many on the bottom one.
        package var m: Int = 16
        /// Candidates kept while linking a new node: higher builds slower and finds better.
        package var efConstruction: Int = 200
        /// Candidates kept while searching (at least k): the recall/speed dial.
        package var efSearch: Int = 64
        package var storage: Storage = .float32
        /// Live vectors at most; an insert beyond it fails with `.full` (the cache evicts first).
        package var maxEntries: Int = 1_000_000
        package var seed: UInt64 = 0x7269_706C_6567_6174

        package init(dimensions: Int, m: Int = 16, efConstruction: Int = 200, efSearch: Int = 64, storage: Storage = .float32,
                    maxEntries: Int = 1_000_000) {
            self.dimensions = dimensions
            self.m = m
            self.efConstruction = efConstruction
            self.efSearch = efSearch
            self.storage = storage
            self.maxEntries = maxEntries
        }
    }

    package struct Match: Sendable, Equatable {
        package var key: UInt64
        package var similarity: Float
    }

    package enum Failure: Error, Equatable, CustomStringConvertible {
        case dimensions(expected: Int, got: Int)
        case zeroVector
        case full(maxEntries: Int)
        case snapshot(String)

        package var description: String {
            switch self {
            case .dimensions(let e, let g): return "vector has \(g) dimensions; the index holds \(e)"
            case .zeroVector: return "a zero or non-finite vector has no direction"
            case .full(let n): return "the index holds its maximum of \(n) vectors"
            case .snapshot(let why): return "snapshot: \(why)"
            }
        }
    }

    package let options: Options
    let dim: Int
    let m: Int
    let m0: Int
    let levelFactor: Double

    // Slot storage (capacity slots; `slots` of them used, live or deleted).
    var capacity = 0
    var slots = 0
    var floats: UnsafeMutablePointer<Float>?
    var bytes: UnsafeMutablePointer<Int8>?
    var scales: UnsafeMutablePointer<Float>?
    /// Bottom-layer links: per slot, a count then `m0` ids.
    var links0: UnsafeMutablePointer<Int32>
    /// Upper-layer links, per slot with a level above 0: per layer a count then `m` ids.
    var upper: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>
    var levels: UnsafeMutablePointer<UInt8>
    var keys: UnsafeMutablePointer<UInt64>
    var deleted: UnsafeMutablePointer<Bool>

    var slotOfKey: [UInt64: Int32] = [:]
    var freeSlots: [Int32] = []
    var entry: Int32 = -1
    var maxLevel = -1
    var rng: UInt64

    let lock = ReadWriteLock()
    let scratchPool = SearchScratchPool()

    package init(_ options: Options) {
        precondition(options.dimensions > 0 && options.m >= 2, "an index needs dimensions and m >= 2")
        self.options = options
        dim = options.dimensions
        m = options.m
        m0 = options.m * 2
        levelFactor = 1 / log(Double(options.m))
        rng = options.seed
        links0 = .allocate(capacity: 0)
        upper = .allocate(capacity: 0)
        levels = .allocate(capacity: 0)
        keys = .allocate(capacity: 0)
        deleted = .allocate(capacity: 0)
        // Small at first: the answer cache keeps an index per conversation scope, most of which
        // hold a handful of questions (1,024 slots of 1,536 floats would be 6 MB each).
        grow(to: min(8, max(options.maxEntries, 1)))
    }

    deinit {
        for s in 0..<slots { upper[s]?.deallocate() }
        floats?.deallocate()
        bytes?.deallocate()
        scales?.deallocate()
        links0.deallocate()
        upper.deallocate()
        levels.deallocate()
        keys.deallocate()
        deleted.deallocate()
    }

    /// The distance kernel this CPU runs (avx512, avx2 or generic), for reports.
    package static var distanceKernel: String { VectorMath.kernel }

    /// Live vectors.
    package var count: Int { lock.reading { slotOfKey.count } }

    /// Bytes held by vectors and links (not counting the key map).
    package var memoryBytes: Int {
        lock.reading {
            let vector = options.storage == .float32 ? dim * 4 : dim + 4
            var upperBytes = 0
            for s in 0..<slots where levels[s] > 0 { upperBytes += Int(levels[s]) * (m + 1) * 4 }
            return capacity * (vector + (m0 + 1) * 4 + 8 + 8 + 2) + upperBytes
        }
    }

    // MARK: Insert and delete

    /// Adds `vector` under `key`, replacing what the key held.
    package func insert(key: UInt64, vector: [Float]) throws(Failure) {
        guard vector.count == dim else { throw .dimensions(expected: dim, got: vector.count) }
        var v = vector
        guard VectorMath.normalize(&v) else { throw .zeroVector }
        try lock.writing { () throws(Failure) in
            if let old = slotOfKey[key] { removeSlot(old) }
            guard slotOfKey.count < options.maxEntries else { throw .full(maxEntries: options.maxEntries) }
            let (slot, reused) = takeSlot()
            v.withUnsafeBufferPointer { store(slot, $0.baseAddress!) }
            keys[Int(slot)] = key
            deleted[Int(slot)] = false
            slotOfKey[key] = slot
            link(slot, v, level: reused ? Int(levels[Int(slot)]) : randomLevel())
        }
    }

    /// Removes `key`; false when it is not there.
    @discardableResult
    package func remove(key: UInt64) -> Bool {
        lock.writing {
            guard let slot = slotOfKey[key] else { return false }
            removeSlot(slot)
            return true
        }
    }

    private func removeSlot(_ slot: Int32) {
        deleted[Int(slot)] = true
        slotOfKey[keys[Int(slot)]] = nil
        freeSlots.append(slot)
    }

    /// A free slot (never the entry point, whose level the graph hangs from), or a new one.
    /// A reused slot keeps its level: other nodes may still link to it on every layer it had.
    private func takeSlot() -> (Int32, reused: Bool) {
        if let i = freeSlots.lastIndex(where: { $0 != entry }) {
            return (freeSlots.remove(at: i), true)
        }
        if slots == capacity { grow(to: min(capacity * 2, max(options.maxEntries, capacity + 1))) }
        slots += 1
        return (Int32(slots - 1), false)
    }

    private func store(_ slot: Int32, _ v: UnsafePointer<Float>) {
        let s = Int(slot)
        switch options.storage {
        case .float32:
            (floats! + s * dim).update(from: v, count: dim)
        case .int8:
            var largest: Float = 0
            for i in 0..<dim { largest = max(largest, abs(v[i])) }
            let scale = largest / 127
            scales![s] = scale
            let out = bytes! + s * dim
            for i in 0..<dim { out[i] = Int8(clamping: Int((v[i] / scale).rounded())) }
        }
    }

    func grow(to newCapacity: Int) {
        func moved<T>(_ old: UnsafeMutablePointer<T>?, _ perSlot: Int, zero: T) -> UnsafeMutablePointer<T> {
            let fresh = UnsafeMutablePointer<T>.allocate(capacity: newCapacity * perSlot)
            fresh.initialize(repeating: zero, count: newCapacity * perSlot)
            if let old {
                fresh.update(from: old, count: capacity * perSlot)
                old.deallocate()
            }
            return fresh
        }
        switch options.storage {
        case .float32: floats = moved(floats, dim, zero: 0)
        case .int8:
            bytes = moved(bytes, dim, zero: 0)
            scales = moved(scales, 1, zero: 0)
        }
        links0 = moved(links0, m0 + 1, zero: 0)
        upper = moved(upper, 1, zero: nil)
        levels = moved(levels, 1, zero: 0)
        keys = moved(keys, 1, zero: 0)
        deleted = moved(deleted, 1, zero: false)
        capacity = newCapacity
    }

    private func randomLevel() -> Int {
        // SplitMix64: a fixed seed makes a build reproducible.
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = (Double(z >> 11) + 1) / Double(1 << 53)
        return min(Int(-log(u) * levelFactor), 15)
    }

    /// Links a stored node into the graph (the HNSW insert).
    private func link(_ node: Int32, _ q: [Float], level: Int) {
        levels[Int(node)] = UInt8(level)
        links0[Int(node) * (m0 + 1)] = 0
        if level > 0 {
            if upper[Int(node)] == nil { upper[Int(node)] = .allocate(capacity: level * (m + 1)) }
            upper[Int(node)]!.initialize(repeating: 0, count: level * (m + 1))
        }
        guard entry >= 0 else {
            entry = node
            maxLevel = level
            return
        }
        q.withUnsafeBufferPointer { qb in
            let qp = qb.baseAddress!
            var current = entry
            var currentDistance = distance(qp, current)
            if maxLevel > level {
                for layer in stride(from: maxLevel, to: level, by: -1) {
                    (current, currentDistance) = greedy(qp, from: current, distance: currentDistance, layer: layer)
                }
            }
            let scratch = scratchPool.take(size: slots)
            defer { scratchPool.give(scratch) }
            for layer in stride(from: min(level, maxLevel), through: 0, by: -1) {
                searchLayer(qp, from: current, distance: currentDistance, ef: options.efConstruction, layer: layer, scratch: scratch)
                let candidates = scratch.found.sorted().filter { $0.node != node }  // a reused slot can be reached through old links
                let chosen = selectNeighbors(candidates, max: m)
                setLinks(node, layer, chosen.map(\.node))
                for c in chosen { addLink(from: c.node, to: node, distance: c.distance, layer: layer) }
                if let nearest = candidates.first { (current, currentDistance) = (nearest.node, nearest.distance) }
            }
        }
        if level > maxLevel {
            entry = node
            maxLevel = level
        }
    }

    /// The heuristic of the paper (algorithm 4): a candidate is kept only if it is nearer to
    /// the new node than to every neighbour already kept, which keeps links spread out.
    private func selectNeighbors(_ candidates: [Candidate], max: Int) -> [Candidate] {
        guard candidates.count > max else { return candidates }
        var kept: [Candidate] = []
        kept.reserveCapacity(max)
        for c in candidates {
            var good = true
            for k in kept where distanceBetween(c.node, k.node) < c.distance {
                good = false
                break
            }
            if good {
                kept.append(c)
                if kept.count == max { break }
            }
        }
        return kept
    }

    @inline(__always)
    func linkList(_ node: Int32, _ layer: Int) -> UnsafeMutablePointer<Int32> {
        layer == 0 ? links0 + Int(node) * (m0 + 1) : upper[Int(node)]! + (layer - 1) * (m + 1)
    }

    private func setLinks(_ node: Int32, _ layer: Int, _ ids: [Int32]) {
        let l = linkList(node, layer)
        l[0] = Int32(ids.count)
        for (i, id) in ids.enumerated() { l[i + 1] = id }
    }

    /// Adds `to` to `from`'s links; when they overflow, the heuristic picks who stays.
    private func addLink(from: Int32, to: Int32, distance: Float, layer: Int) {
        let l = linkList(from, layer)
        let limit = layer == 0 ? m0 : m
        let n = Int(l[0])
        for i in 0..<n where l[i + 1] == to { return }
        if n < limit {
            l[n + 1] = to
            l[0] = Int32(n + 1)
            return
        }
        var candidates = [Candidate(distance: distance, node: to)]
        for i in 0..<n { candidates.append(Candidate(distance: distanceBetween(from, l[i + 1]), node: l[i + 1])) }
        candidates.sort { $0.distance < $1.distance }
        setLinks(from, layer, selectNeighbors(candidates, max: limit).map(\.node))
    }

    // MARK: Search

    /// The `k` nearest live vectors to `query`, most similar first. `ef` overrides
    /// `options.efSearch` (it is raised to `k` if lower).
    package func search(_ query: [Float], k: Int, ef: Int? = nil) throws(Failure) -> [Match] {
        guard query.count == dim else { throw .dimensions(expected: dim, got: query.count) }
        var q = query
        guard VectorMath.normalize(&q) else { throw .zeroVector }
        guard k > 0 else { return [] }
        return lock.reading {
            guard entry >= 0 else { return [] }
            return q.withUnsafeBufferPointer { qb in
                let qp = qb.baseAddress!
                var current = entry
                var currentDistance = distance(qp, current)
                for layer in stride(from: maxLevel, to: 0, by: -1) {
                    (current, currentDistance) = greedy(qp, from: current, distance: currentDistance, layer: layer)
                }
                let scratch = scratchPool.take(size: slots)
                defer { scratchPool.give(scratch) }
                searchLayer(qp, from: current, distance: currentDistance, ef: max(ef ?? options.efSearch, k), layer: 0, scratch: scratch)
                return scratch.found.sorted().prefix(k).map { Match(key: keys[Int($0.node)], similarity: 1 - $0.distance) }
            }
        }
    }

    /// Every live vector compared, the exact answer (for tests and the benchmark's ground truth).
    package func exactSearch(_ query: [Float], k: Int) throws(Failure) -> [Match] {
        guard query.count == dim else { throw .dimensions(expected: dim, got: query.count) }
        var q = query
        guard VectorMath.normalize(&q) else { throw .zeroVector }
        return lock.reading {
            q.withUnsafeBufferPointer { qb in
                var best = FarthestFirstHeap()
                for s in 0..<slots where !deleted[s] {
                    let d = distance(qb.baseAddress!, Int32(s))
                    if best.count < k { best.push(Candidate(distance: d, node: Int32(s))) } else if d < best.top.distance {
                        best.pop()
                        best.push(Candidate(distance: d, node: Int32(s)))
                    }
                }
                return best.sorted().map { Match(key: keys[Int($0.node)], similarity: 1 - $0.distance) }
            }
        }
    }

    @inline(__always)
    func distance(_ q: UnsafePointer<Float>, _ node: Int32) -> Float {
        let s = Int(node)
        switch options.storage {
        case .float32: return 1 - VectorMath.dot(q, floats! + s * dim, dim)
        case .int8: return 1 - VectorMath.dot(q, bytes! + s * dim, dim) * scales![s]
        }
    }

    private func distanceBetween(_ a: Int32, _ b: Int32) -> Float {
        switch options.storage {
        case .float32: return distance(floats! + Int(a) * dim, b)
        case .int8:
            return 1 - Float(VectorMath.dot(bytes! + Int(a) * dim, bytes! + Int(b) * dim, dim)) * scales![Int(a)] * scales![Int(b)]
        }
    }

    @inline(__always)
    private func prefetch(_ node: Int32) {
        switch options.storage {
        case .float32: tg_prefetch(floats! + Int(node) * dim)
        case .int8: tg_prefetch(bytes! + Int(node) * dim)
        }
    }

    /// Walks an upper layer towards the query, one best neighbour at a time.
    private func greedy(_ q: UnsafePointer<Float>, from start: Int32, distance startDistance: Float, layer: Int) -> (Int32, Float) {
        var current = start, best = startDistance
        var moved = true
        while moved {
            moved = false
            let l = linkList(current, layer)
            for i in 0..<Int(l[0]) {
                let n = l[i + 1]
                let d = distance(q, n)
                if d < best {
                    best = d
                    current = n
                    moved = true
                }
            }
        }
        return (current, best)
    }

    /// The best-first search of one layer (algorithm 2), keeping `ef` results. Deleted nodes
    /// are walked through but never returned.
    private func searchLayer(_ q: UnsafePointer<Float>, from start: Int32, distance startDistance: Float, ef: Int, layer: Int,
                             scratch: SearchScratchPool.Scratch) {
        scratch.frontier.removeAll()
        scratch.found.removeAll()
        _ = scratch.visit(start)
        scratch.frontier.push(Candidate(distance: startDistance, node: start))
        if !deleted[Int(start)] { scratch.found.push(Candidate(distance: startDistance, node: start)) }
        while let c = scratch.frontier.pop() {
            if scratch.found.count >= ef && c.distance > scratch.found.top.distance { break }
            let l = linkList(c.node, layer)
            let n = Int(l[0])
            if n > 0 { prefetch(l[1]) }
            for i in 0..<n {
                let next = l[i &+ 1]
                if i &+ 1 < n { prefetch(l[i &+ 2]) }  // the next vector loads while this one is compared
                guard scratch.visit(next) else { continue }
                let d = distance(q, next)
                if scratch.found.count < ef || d < scratch.found.top.distance {
                    scratch.frontier.push(Candidate(distance: d, node: next))
                    if !deleted[Int(next)] {
                        scratch.found.push(Candidate(distance: d, node: next))
                        if scratch.found.count > ef { scratch.found.pop() }
                    }
                }
            }
        }
    }
}
