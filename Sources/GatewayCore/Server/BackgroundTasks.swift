import NIOConcurrencyHelpers

/// Work a service starts and does not wait for at once (a notification sent upstream, a retired
/// upstream's shutdown, a row written to the store), owned by that service instead of left to
/// run on its own: when the service stops it calls `close`, which refuses new work, lets the
/// work in flight finish for a bounded time, then cancels what is left and waits for it. So
/// nothing a service started outlives it, and a stopped gateway leaves no task behind.
package final class BackgroundTasks: Sendable {
    private struct State {
        var next = 0
        var running: [Int: Task<Void, Never>] = [:]
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    package init() {}

    /// Starts `work`, unless the owner has closed the set (then it is dropped: the owner is
    /// stopping, and starting work it would not wait for is what this type prevents).
    @discardableResult
    package func spawn(_ work: @escaping @Sendable () async -> Void) -> Bool {
        state.withLockedValue { s in
            guard !s.closed else { return false }
            let id = s.next
            s.next += 1
            // The task removes itself under the same lock, so it cannot finish before it is
            // recorded.
            s.running[id] = Task { [weak self] in
                await work()
                self?.state.withLockedValue { _ = $0.running.removeValue(forKey: id) }
            }
            return true
        }
    }

    /// How many tasks are running.
    package var count: Int { state.withLockedValue { $0.running.count } }

    /// Refuses new work, waits up to `grace` for the running tasks, then cancels those left and
    /// waits for them to end.
    package func close(grace: Duration) async {
        let running = state.withLockedValue { s -> [Task<Void, Never>] in
            s.closed = true
            return Array(s.running.values)
        }
        guard !running.isEmpty else { return }
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for task in running { await task.value }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: grace)
                return false
            }
            if await group.next() == false {
                for task in running { task.cancel() }
            }
            group.cancelAll()
            await group.waitForAll()
        }
    }
}
