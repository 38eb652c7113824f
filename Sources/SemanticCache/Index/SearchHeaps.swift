/// A node id and its distance to the query (1 - cosine similarity: smaller is nearer).
struct Candidate {
    var distance: Float
    var node: Int32
}

/// Binary heap with the nearest candidate on top: the frontier of a search.
struct NearestFirstHeap {
    var items: ContiguousArray<Candidate> = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ c: Candidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].distance < items[parent].distance else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

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
            if l < n && items[l].distance < items[m].distance { m = l }
            if r < n && items[r].distance < items[m].distance { m = r }
            guard m != i else { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// Binary heap with the farthest candidate on top: the best `ef` found so far.
struct FarthestFirstHeap {
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
            guard items[i].distance > items[parent].distance else { break }
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
            if l < n && items[l].distance > items[m].distance { m = l }
            if r < n && items[r].distance > items[m].distance { m = r }
            guard m != i else { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }

    /// Nearest first.
    func sorted() -> [Candidate] { items.sorted { $0.distance < $1.distance } }
}
