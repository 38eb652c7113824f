#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Many readers or one writer: searches share the index, inserts and deletes take it alone.
final class ReadWriteLock: @unchecked Sendable {
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    func reading<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func writing<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// What one search needs besides the graph, reused across searches so a search allocates
/// nothing: marks of the nodes it has seen (a generation number per node instead of clearing a
/// set) and its two heaps. Lent out one per concurrent search.
final class SearchScratchPool: @unchecked Sendable {
    final class Scratch {
        var frontier = NearestFirstHeap()
        var found = FarthestFirstHeap()
        private var marks: UnsafeMutablePointer<UInt32>
        private var size: Int
        private var generation: UInt32 = 0

        init(size: Int) {
            self.size = max(size, 1024)
            marks = .allocate(capacity: self.size)
            marks.initialize(repeating: 0, count: self.size)
        }

        deinit { marks.deallocate() }

        /// Starts a new search over `size` nodes.
        func reset(size needed: Int) {
            if size < needed {
                marks.deallocate()
                size = max(needed, size * 2)
                marks = .allocate(capacity: size)
                marks.initialize(repeating: 0, count: size)
                generation = 0
            }
            generation &+= 1
            if generation == 0 {  // wrapped: clear once every 4 billion searches
                marks.update(repeating: 0, count: size)
                generation = 1
            }
        }

        /// True the first time `node` is seen in this search.
        @inline(__always)
        func visit(_ node: Int32) -> Bool {
            let i = Int(node)
            if marks[i] == generation { return false }
            marks[i] = generation
            return true
        }
    }

    private var free: [Scratch] = []
    private let lock = ReadWriteLock()

    func take(size: Int) -> Scratch {
        let scratch = lock.writing { free.popLast() } ?? Scratch(size: size)
        scratch.reset(size: size)
        return scratch
    }

    func give(_ scratch: Scratch) { lock.writing { free.append(scratch) } }
}
