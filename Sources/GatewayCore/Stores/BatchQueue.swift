import NIOConcurrencyHelpers

/// Rows waiting for a batched writer (the ledger, the MCP audit): requests append under a lock
/// and nothing else; the writer takes everything at once. Bounded: past `capacity` rows, new
/// rows are dropped and counted rather than growing memory without end (the store is then
/// failing, and the writer says so). Rows a failed write gives back go first next time, within
/// the same bound.
public final class BatchQueue<Row: Sendable>: Sendable {
    private let state = NIOLockedValueBox<(rows: [Row], dropped: Int)>(([], 0))
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues a row; false when the queue is full and the row was dropped.
    @discardableResult
    public func append(_ row: Row) -> Bool {
        state.withLockedValue { s in
            guard s.rows.count < capacity else {
                s.dropped += 1
                return false
            }
            s.rows.append(row)
            return true
        }
    }

    /// Everything queued, and how many rows were dropped since the last take.
    public func take() -> (rows: [Row], dropped: Int) {
        state.withLockedValue { s in
            defer { s.rows.removeAll(keepingCapacity: true); s.dropped = 0 }
            return (s.rows, s.dropped)
        }
    }

    /// Puts rows a write failed on back at the front (as many as fit).
    public func giveBack(_ rows: [Row]) {
        state.withLockedValue { s in
            let room = max(0, capacity - s.rows.count)
            s.dropped += max(0, rows.count - room)
            s.rows.insert(contentsOf: rows.prefix(room), at: 0)
        }
    }
}
