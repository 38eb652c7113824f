import NIOCore

/// A writer whose flush `LoopFlushes` holds until the end of the loop's tick.
package protocol HeldFlushWriter: AnyObject {
    /// Flushes what was written since the flush was held. Called once per `hold`.
    func flushHeldWrites()
}

/// Flushes held until the end of the event loop's tick: the client answers and upstream
/// requests written while the loop handles one batch of ready sockets go out after the batch,
/// one after the other (all but the tick's first, which goes at once).
///
/// Every flush is a write system call that wakes the reader on the other side. When that
/// reader's CPU is idle, the kernel must interrupt that CPU to wake it, and on a virtual
/// machine the interrupt costs the sender a few microseconds. Flushed one at a time between
/// reads, each answer and each upstream request woke a sleeping reader: two interrupts per
/// proxied request, a third of the gateway's CPU at 64 connections (bench/RESULTS.md). Flushed
/// together at the end of the tick, the first write wakes the reader and the rest find it
/// awake. The tick's first flush is not held: at one connection, holding it kept each answer
/// waiting for the loop's bookkeeping after it (12 µs at the median, bench/RESULTS.md).
/// Nothing waits longer than the tick in which it was written: NIO runs the loop's tasks
/// right after the I/O events it handled.
///
/// Only touched on its event loop.
package final class LoopFlushes {
    package let eventLoop: EventLoop
    private var held: [any HeldFlushWriter] = []
    /// The list being flushed, kept to reuse its storage.
    private var flushing: [any HeldFlushWriter] = []
    private var scheduled = false
    /// The end-of-tick task, made once.
    private lazy var flushTask: () -> Void = { [unowned self] in self.flushAll() }

    package init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Whether `writer`'s flush waits for the end of this tick: false for the tick's first
    /// flush, which the writer makes at once (a lone request is not kept waiting while the loop
    /// finishes its bookkeeping, and the reader it wakes is asleep anyway); true for the
    /// others, which are held and flushed by `flushHeldWrites` at the end of the tick. The
    /// writer holds at most once at a time (it keeps a flag), so a burst of writes flushes once.
    package func hold(_ writer: any HeldFlushWriter) -> Bool {
        guard scheduled else {
            // The first this tick: the task marks the tick's end.
            scheduled = true
            eventLoop.assumeIsolated().execute(flushTask)
            return false
        }
        held.append(writer)
        return true
    }

    private func flushAll() {
        scheduled = false
        // A flush can complete writes whose callbacks write and hold again: they go into the
        // fresh list and the next task.
        swap(&held, &flushing)
        for writer in flushing { writer.flushHeldWrites() }
        flushing.removeAll(keepingCapacity: true)
    }
}
