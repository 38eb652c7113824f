import Gateway
import GatewayCore
import Testing

@Suite struct BalancerTests {
    func shares(_ weights: [Int], picks: Int = 10_000, _ pick: () -> Int?) -> [Double] {
        var counts = Array(repeating: 0, count: weights.count)
        for _ in 0..<picks { if let i = pick() { counts[i] += 1 } }
        return counts.map { Double($0) / Double(picks) }
    }

    @Test func weightedRoundRobinKeepsSharesWithinFivePercent() {
        let weights = [95, 5]
        var rr = SmoothWeightedRoundRobin(weights: weights)
        let s = shares(weights) { rr.next() }
        #expect(abs(s[0] - 0.95) <= 0.05 * 0.95)
        #expect(abs(s[1] - 0.05) <= 0.05 * 0.05 + 0.0001)
    }

    @Test func weightedRoundRobinInterleavesSmoothly() {
        var rr = SmoothWeightedRoundRobin(weights: [5, 1, 1])
        let seq = (0..<7).compactMap { _ in rr.next() }
        #expect(seq == [0, 0, 1, 0, 2, 0, 0])  // nginx's documented sequence for {5,1,1}
    }

    @Test func weightZeroGetsNothingAndAllZeroGivesNil() {
        var rr = SmoothWeightedRoundRobin(weights: [0, 3])
        let picks = (0..<100).map { _ in rr.next() }
        #expect(picks.allSatisfy { $0 == 1 })
        var none = SmoothWeightedRoundRobin(weights: [0, 0])
        let nothing = none.next()
        #expect(nothing == nil)
    }

    @Test func excludedTargetsAreSkipped() {
        var rr = SmoothWeightedRoundRobin(weights: [1, 1, 1])
        var ex = TargetSet()
        ex.insert(0)
        ex.insert(2)
        let picks = (0..<10).map { _ in rr.next(excluding: ex) }
        #expect(picks.allSatisfy { $0 == 1 })
    }

    @Test func leastConnectionsPrefersTheLeastBusyRelativeToWeight() {
        let b = TargetBalancer(algorithm: .leastConnections, weights: [100, 100, 200])
        b.started(0); b.started(0); b.started(1)
        // target 2: 0 in flight with double weight
        #expect(b.pick(hashKey: nil) == 2)
        b.started(2); b.started(2)
        // (1+1)/100 vs (2+1)/200: 1 and 2 tie at 0.02 vs 0.015 -> 2 still
        #expect(b.pick(hashKey: nil) == 2)
        b.finished(1)
        #expect(b.pick(hashKey: nil) == 1)
    }

    @Test func leastConnectionsSpreadsEvenlyWhenIdle() {
        let b = TargetBalancer(algorithm: .leastConnections, weights: [100, 100, 100])
        let s = shares([1, 1, 1]) { b.pick(hashKey: nil) }
        for x in s { #expect(abs(x - 1.0 / 3) <= 0.05 / 3) }
    }

    @Test func consistentHashIsStableAndMovesFewKeysWhenATargetLeaves() {
        let three = ConsistentHashRing(weights: [100, 100, 100])
        let keys = (0..<10_000).map { ConsistentHashRing.hash("user-\($0)".utf8) }
        let before = keys.map { three.pick($0)! }
        #expect(keys.map { three.pick($0)! } == before)  // deterministic
        var counts = [0, 0, 0]
        for t in before { counts[t] += 1 }
        for c in counts { #expect(c > 2_300 && c < 4_300) }  // each about a third
        // Target 2 drained: only its keys move.
        let two = ConsistentHashRing(weights: [100, 100, 0])
        let after = keys.map { two.pick($0)! }
        let moved = zip(before, after).filter { $0 != $1 }.count
        #expect(moved == counts[2])
    }

    @Test func hashBalancerFallsBackToWeightsWithoutAKey() {
        let b = TargetBalancer(algorithm: .hash, weights: [50, 50])
        let s = shares([1, 1]) { b.pick(hashKey: nil) }
        #expect(abs(s[0] - 0.5) <= 0.025)
    }
}
