/// A node id and its distance to the query (1 - cosine similarity: smaller is nearer).
struct Candidate {
    var distance: Float
    var node: Int32
}

/// Which candidate a heap keeps on top.
protocol CandidateOrder {
    /// Whether a candidate at distance `a` belongs above one at `b`.
    static func above(_ a: Float, _ b: Float) -> Bool
}

/// The nearest on top: the frontier of a search.
enum NearestFirst: CandidateOrder {
    @inline(__always) static func above(_ a: Float, _ b: Float) -> Bool { a < b }
}

/// The farthest on top: the best `ef` found so far, ready to drop its worst.
enum FarthestFirst: CandidateOrder {
    @inline(__always) static func above(_ a: Float, _ b: Float) -> Bool { a > b }
}

typealias NearestFirstHeap = CandidateHeap<NearestFirst>
typealias FarthestFirstHeap = CandidateHeap<FarthestFirst>

/// A binary heap of candidates; the order is a type, so each heap compiles to direct
/// comparisons.
struct CandidateHeap<Order: CandidateOrder> {
    var items: ContiguousArray<Candidate> = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var top: Candidate { items[0] }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ c: Candidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Order.above(items[i].distance, items[parent].distance) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    @discardableResult
    mutating func pop() -> Candidate? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && Order.above(items[l].distance, items[m].distance) { m = l }
            if r < n && Order.above(items[r].distance, items[m].distance) { m = r }
            guard m != i else { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }

    /// Nearest first.
    func sorted() -> [Candidate] { items.sorted { $0.distance < $1.distance } }
}
