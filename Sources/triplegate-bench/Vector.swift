import ArgumentParser
import Foundation
import SemanticCache

/// `triplegate-bench vector --base F --queries F --truth F --dim D`: builds our index over the
/// base vectors (raw float32, row after row) and measures single-threaded queries at each `ef`
/// against the true top 10 (raw int32, 100 per query, from bench/vector.py). Prints JSON for
/// bench/vector.
struct Vector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vector", abstract: "Measure the vector index.")

    @Option var base: String
    @Option var queries: String
    @Option var truth: String
    @Option var dim: Int
    @Option var m = 16
    @Option var efConstruction = 200
    @Option(help: "Comma-separated ef values to query at.") var ef = "10,20,40,80,160,320"
    @Option var storage = "float32"
    @Option var k = 10

    func run() async throws {
        func floats(_ path: String) throws -> [Float] {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        let baseVectors = try floats(base), queryVectors = try floats(queries)
        let truthData = try Data(contentsOf: URL(fileURLWithPath: truth))
        let truthIDs: [Int32] = truthData.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        let n = baseVectors.count / dim, nq = queryVectors.count / dim, truthWidth = truthIDs.count / nq
        guard let storage = VectorIndex.Storage(rawValue: storage) else { throw ValidationError("--storage float32|int8") }

        let rssBefore = Self.rssKiB()
        let index = VectorIndex(.init(dimensions: dim, m: m, efConstruction: efConstruction, storage: storage, maxEntries: n))
        let clock = ContinuousClock()
        let started = clock.now
        for i in 0..<n { try index.insert(key: UInt64(i), vector: Array(baseVectors[(i * dim)..<((i + 1) * dim)])) }
        let buildSeconds = (clock.now - started) / .seconds(1)
        let rssAfter = Self.rssKiB()

        var runs: [String] = []
        for efValue in ef.split(separator: ",").compactMap({ Int($0) }) {
            var latencies: [Double] = []
            latencies.reserveCapacity(nq)
            var hits = 0
            let all = clock.now
            for qi in 0..<nq {
                let q = Array(queryVectors[(qi * dim)..<((qi + 1) * dim)])
                let t0 = clock.now
                let found = try index.search(q, k: k, ef: efValue)
                latencies.append(Double((clock.now - t0) / .nanoseconds(1)) / 1000)
                let truth = Set(truthIDs[(qi * truthWidth)..<(qi * truthWidth + k)].map { UInt64($0) })
                hits += found.filter { truth.contains($0.key) }.count
            }
            let total = (clock.now - all) / .seconds(1)
            latencies.sort()
            let p = { (f: Double) in latencies[min(latencies.count - 1, Int(Double(latencies.count) * f))] }
            runs.append("{\"ef\":\(efValue),\"recall\":\(Double(hits) / Double(nq * k)),\"p50_us\":\(p(0.5)),\"p99_us\":\(p(0.99)),\"qps\":\(Double(nq) / total)}")
        }
        print("{\"kernel\":\"\(VectorIndex.distanceKernel)\",\"n\":\(n),\"build_s\":\(buildSeconds),\"index_bytes\":\(index.memoryBytes),\"rss_delta_kib\":\(rssAfter - rssBefore),\"runs\":[\(runs.joined(separator: ","))]}")
    }

    static func rssKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
