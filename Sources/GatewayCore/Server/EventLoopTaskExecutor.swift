import NIOCore

/// Runs Swift tasks on a NIO event loop. A gate that handles a request in a task (the MCP gate:
/// one agent message can fan out to many upstreams) prefers its connection's loop, so the task,
/// its upstream calls over the loop's pool and the answer written back all stay on one thread:
/// no hop to the cooperative pool and back per await.
package final class EventLoopTaskExecutor: TaskExecutor {
    package let eventLoop: EventLoop

    package init(_ eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
