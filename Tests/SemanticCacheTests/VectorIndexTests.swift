import Foundation
import Testing

@testable import SemanticCache

/// Deterministic data: a seeded generator, uniform random vectors, and clustered ones (points
/// scattered around a few centres, as embeddings of related questions are).
struct TestVectors {
    var state: UInt64

    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }

    mutating func gaussian() -> Float {
        Float((-2 * log(max(next(), 1e-300))).squareRoot() * cos(2 * .pi * next()))
    }

    mutating func random(_ n: Int, dim: Int) -> [[Float]] {
        (0..<n).map { _ in (0..<dim).map { _ in gaussian() } }
    }

    mutating func clustered(_ n: Int, dim: Int, clusters: Int, spread: Float = 0.3) -> [[Float]] {
        let centres = random(clusters, dim: dim)
        return (0..<n).map { i in centres[i % clusters].map { $0 + spread * gaussian() } }
    }
}

func recall(_ index: VectorIndex, _ data: [[Float]], queries: [[Float]], k: Int, ef: Int) throws -> Double {
    var hits = 0
    for q in queries {
        let truth = Set(try index.exactSearch(q, k: k).map(\.key))
        hits += try index.search(q, k: k, ef: ef).filter { truth.contains($0.key) }.count
    }
    return Double(hits) / Double(queries.count * k)
}

@Suite struct VectorIndexTests {
    @Test(arguments: [VectorIndex.Storage.float32, .int8])
    func recallAgainstBruteForceOnRandomAndClusteredData(storage: VectorIndex.Storage) throws {
        var gen = TestVectors(state: 7)
        // The last 100 points of each set are the queries (near the same centres, for clustered).
        for (name, points) in [("random", gen.random(4100, dim: 64)), ("clustered", gen.clustered(4100, dim: 64, clusters: 40))] {
            let data = Array(points.prefix(4000)), queries = Array(points.suffix(100))
            let index = VectorIndex(.init(dimensions: 64, m: 16, efConstruction: 100, storage: storage))
            for (i, v) in data.enumerated() { try index.insert(key: UInt64(i), vector: v) }
            #expect(index.count == 4000)
            // 64 dimensions of noise is the hard case (hnswlib's recall curve there is the same
            // as ours, measured with bench/vector.py), hence ef 200.
            let r10 = try recall(index, data, queries: queries, k: 10, ef: 200)
            let r1 = try recall(index, data, queries: queries, k: 1, ef: 200)
            #expect(r10 >= 0.95, "\(name) \(storage) recall@10 \(r10)")
            #expect(r1 >= 0.95, "\(name) \(storage) recall@1 \(r1)")
            // A stored vector finds itself first, with similarity 1.
            let own = try index.search(data[123], k: 1)
            #expect(own.first?.key == 123)
            #expect(abs((own.first?.similarity ?? 0) - 1) < (storage == .int8 ? 0.01 : 1e-5))
        }
    }

    @Test func deletedVectorsAreNeverReturnedAndTheirSlotsAreReused() throws {
        var gen = TestVectors(state: 11)
        let data = gen.clustered(3000, dim: 32, clusters: 10)
        let index = VectorIndex(.init(dimensions: 32, efConstruction: 80))
        for (i, v) in data.enumerated() { try index.insert(key: UInt64(i), vector: v) }
        let gone = Set((0..<3000).filter { $0 % 3 == 0 }.map(UInt64.init))
        for k in gone { #expect(index.remove(key: k)) }
        #expect(!index.remove(key: 0))
        #expect(index.count == 2000)
        for q in data.prefix(200) {
            let found = try index.search(q, k: 20, ef: 64)
            #expect(found.count == 20)
            #expect(found.allSatisfy { !gone.contains($0.key) })
        }
        let memory = index.memoryBytes
        for k in gone { try index.insert(key: k + 10_000, vector: data[Int(k)]) }  // fills the freed slots
        #expect(index.memoryBytes == memory)
        #expect(index.count == 3000)
        let r = try recall(index, data, queries: gen.clustered(50, dim: 32, clusters: 10), k: 10, ef: 100)
        #expect(r >= 0.9, "recall after reuse \(r)")
        // Replacing a key's vector keeps one entry for it.
        try index.insert(key: 1, vector: data[2])
        #expect(index.count == 3000)
        #expect(try index.search(data[2], k: 2).map(\.key).contains(1))
    }

    @Test func boundsAndBadInput() throws {
        let index = VectorIndex(.init(dimensions: 4, maxEntries: 2))
        #expect(throws: VectorIndex.Failure.dimensions(expected: 4, got: 3)) { try index.insert(key: 1, vector: [1, 2, 3]) }
        #expect(throws: VectorIndex.Failure.zeroVector) { try index.insert(key: 1, vector: [0, 0, 0, 0]) }
        #expect(throws: VectorIndex.Failure.zeroVector) { try index.search([.nan, 0, 0, 0], k: 1) }
        #expect(try index.search([1, 0, 0, 0], k: 3).isEmpty)
        try index.insert(key: 1, vector: [1, 0, 0, 0])
        try index.insert(key: 2, vector: [0, 1, 0, 0])
        #expect(throws: VectorIndex.Failure.full(maxEntries: 2)) { try index.insert(key: 3, vector: [0, 0, 1, 0]) }
        try index.insert(key: 2, vector: [0, 0, 1, 0])  // a replacement is not a new entry
        index.remove(key: 1)
        try index.insert(key: 3, vector: [0, 0, 0, 1])
        #expect(try index.search([0, 0, 0, 2], k: 1) == [.init(key: 3, similarity: 1)])
    }

    @Test(arguments: [VectorIndex.Storage.float32, .int8])
    func snapshotRoundTrip(storage: VectorIndex.Storage) throws {
        var gen = TestVectors(state: 5)
        let data = gen.random(2000, dim: 48)
        let index = VectorIndex(.init(dimensions: 48, efConstruction: 64, storage: storage))
        for (i, v) in data.enumerated() { try index.insert(key: UInt64(i) * 7, vector: v) }
        for k in stride(from: 0, to: 2000, by: 5) { index.remove(key: UInt64(k) * 7) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("index-\(UUID().uuidString).tgvi").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try index.save(to: path)
        let loaded = try VectorIndex.load(from: path)
        #expect(loaded.options == index.options && loaded.count == index.count)
        for q in gen.random(50, dim: 48) {
            #expect(try loaded.search(q, k: 10) == index.search(q, k: 10))
        }
        // It goes on working: inserts after the load reuse the freed slots.
        try loaded.insert(key: 99_999, vector: data[0])
        #expect(try loaded.search(data[0], k: 1).first?.key == 99_999)
        // A damaged file is refused, not trusted.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.removeLast(100)
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: VectorIndex.Failure.snapshot("truncated")) { try VectorIndex.load(from: path) }
        try Data("not an index".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: (any Error).self) { try VectorIndex.load(from: path) }
    }

    @Test func concurrentSearchesWithInserts() async throws {
        var gen = TestVectors(state: 3)
        let data = gen.clustered(6000, dim: 32, clusters: 30)
        let queries = gen.clustered(200, dim: 32, clusters: 30)
        let index = VectorIndex(.init(dimensions: 32, efConstruction: 64))
        for (i, v) in data.prefix(2000).enumerated() { try index.insert(key: UInt64(i), vector: v) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for (i, v) in data.enumerated().dropFirst(2000) { try index.insert(key: UInt64(i), vector: v) }
                for k in stride(from: 0, to: 2000, by: 2) { index.remove(key: UInt64(k)) }
                return 0
            }
            for t in 0..<4 {
                group.addTask {
                    var answered = 0
                    for _ in 0..<20 {
                        for q in queries[(t * 50)..<(t * 50 + 50)] {
                            let found = try index.search(q, k: 5)
                            #expect(found.count == 5 && found.allSatisfy { Int($0.key) < 6000 })
                            answered += 1
                        }
                    }
                    return answered
                }
            }
            var total = 0
            for try await n in group { total += n }
            #expect(total == 4 * 20 * 50)
        }
        #expect(index.count == 5000)
        let r = try recall(index, data, queries: queries, k: 10, ef: 128)
        #expect(r >= 0.95, "recall after concurrent build \(r)")
    }
}
