import GatewayCore
import NIOConcurrencyHelpers
import Testing

@Suite struct BackgroundTasksTests {
    @Test func closeWaitsForWorkInFlightAndRefusesNewWork() async {
        let tasks = BackgroundTasks()
        let done = NIOLockedValueBox(0)
        let (gate, open) = AsyncStream<Void>.makeStream()
        for _ in 0..<3 {
            #expect(tasks.spawn {
                for await _ in gate { break }
                done.withLockedValue { $0 += 1 }
            })
        }
        #expect(tasks.count == 3)
        // The work finishes while close waits for it: nothing is cancelled.
        async let closed: Void = tasks.close(grace: .seconds(60))
        open.yield(); open.yield(); open.yield()
        open.finish()
        await closed
        #expect(done.withLockedValue { $0 } == 3)
        #expect(tasks.count == 0)
        #expect(!tasks.spawn { done.withLockedValue { $0 += 100 } })
        #expect(done.withLockedValue { $0 } == 3)
    }

    @Test func workThatOutlivesTheGraceIsCancelledAndAwaited() async {
        let tasks = BackgroundTasks()
        let cancelled = NIOLockedValueBox(false)
        tasks.spawn {
            // Sleeps until cancelled (an upstream that never answers).
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            cancelled.withLockedValue { $0 = true }
        }
        await tasks.close(grace: .milliseconds(10))
        #expect(cancelled.withLockedValue { $0 })
        #expect(tasks.count == 0)
    }

    @Test func finishedWorkLeavesTheSet() async throws {
        let tasks = BackgroundTasks()
        let (ended, signal) = AsyncStream<Void>.makeStream()
        tasks.spawn { signal.yield() }
        for await _ in ended { break }
        // The task removes itself just after its work; wait for that without a fixed sleep.
        for _ in 0..<10_000 where tasks.count > 0 { await Task.yield() }
        #expect(tasks.count == 0)
        await tasks.close(grace: .seconds(1))
    }
}
