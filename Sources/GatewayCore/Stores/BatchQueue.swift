import NIOConcurrencyHelpers

/// Rows waiting for a batched writer (the ledger, the MCP audit): requests append under a lock
/// and nothing else; the writer takes everything at once. Bounded: past `capacity` rows, new
/// rows are dropped and counted rather than growing memory without end (the store is then
/// failing, and the writer says so). Rows a failed write gives back go first next time, within
/// the same bound.
package final class BatchQueue<Row: Sendable>: @unchecked Sendable {
    // Guarded by `lock` (not a locked box: a row is moved into the queue, where a closure
    // would capture and copy it, retaining each of its strings once more). Visible to
    // `append`, which is inlined where the row type is known: unspecialized, it would copy
    // each row through its type's value witnesses and then destroy the original.
    @usableFromInline let lock = NIOLock()
    @usableFromInline var rows: [Row] = []
    @usableFromInline var dropped = 0
    package let capacity: Int

    package init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues a row; false when the queue is full and the row was dropped.
    @inlinable @discardableResult
    package func append(_ row: consuming Row) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard rows.count < capacity else {
            dropped += 1
            return false
        }
        rows.append(row)
        return true
    }

    /// Everything queued, and how many rows were dropped since the last take.
    package func take() -> (rows: [Row], dropped: Int) {
        lock.withLock {
            let taken = (rows, dropped)
            // The next batch is likely as large: room for it now, not by doubling as it comes.
            rows = []
            rows.reserveCapacity(taken.0.count)
            dropped = 0
            return taken
        }
    }

    /// Puts rows a write failed on back at the front (as many as fit).
    package func giveBack(_ rows: [Row]) {
        lock.withLock {
            let room = max(0, capacity - self.rows.count)
            dropped += max(0, rows.count - room)
            self.rows.insert(contentsOf: rows.prefix(room), at: 0)
        }
    }
}
