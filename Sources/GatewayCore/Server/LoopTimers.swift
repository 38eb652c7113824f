import NIOCore

/// A timer on one event loop's `LoopTimers`: made once by its owner (a connection, a call)
/// and armed, re-armed and cancelled as often as needed, each in O(1).
package final class LoopTimer {
    fileprivate var deadlineTick: UInt64 = 0
    /// Where the timer sits in the wheel (slot, index in it); -1 when it is in none.
    fileprivate var slot = -1
    fileprivate var index = -1
    /// Armed and not yet fired or cancelled (a timer taken out of its slot to fire is still
    /// armed until it fires, so cancelling it meanwhile keeps it from firing).
    package fileprivate(set) var isArmed = false
    private let action: () -> Void

    /// `action` runs on the loop when the timer fires. It is held strongly for the timer's
    /// life: capture the owner weakly, or cancel the timer when the owner is done.
    package init(_ action: @escaping () -> Void) {
        self.action = action
    }

    fileprivate func fire() { action() }
}

/// The timers of one event loop: a hashed timing wheel behind a single NIO scheduled task.
///
/// Every request arms and cancels a few timers (the client's keep-alive timer, the upstream
/// call's timeout, the pooled connection's idle timer) that almost never fire. NIO keeps
/// scheduled tasks in a heap and cancels by a linear search of it, copying each task as it
/// goes: at 64 connections that was about a tenth of the gateway's user CPU. Here arming is
/// an append to a slot and cancelling a swap-remove; the NIO task is moved only when a timer
/// is due earlier than it, so it wakes the loop about once per timeout, not per request.
///
/// Timers fire on or after their deadline, at most one tick (`resolution`) late; never early.
/// Only touched on its event loop.
package final class LoopTimers {
    package let eventLoop: EventLoop
    private let resolutionNanos: UInt64
    private var slots: [[LoopTimer]]
    private let mask: Int
    /// Ticks up to this one have been processed.
    private var processedTick: UInt64
    private var count = 0
    private var task: Scheduled<Void>?
    /// The tick the NIO task is scheduled for (when `task` is set).
    private var taskTick: UInt64 = .max
    /// Firing due timers: timers they arm wait for the scan that follows.
    private var advancing = false
    private let now: () -> NIODeadline

    /// - Parameters:
    ///   - resolution: the tick; timers fire at most this late. 10 ms suits timeouts of a
    ///     second and more (every one in the gateway) and keeps the NIO task rare.
    ///   - slotCount: a power of two; one rotation covers `slotCount × resolution` (41 s by
    ///     default). Later deadlines wait in their slot for their rotation.
    ///   - now: the clock, injected by tests.
    package init(eventLoop: EventLoop, resolution: TimeAmount = .milliseconds(10), slotCount: Int = 4096,
                now: @escaping () -> NIODeadline = { .now() }) {
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0, "slotCount must be a power of two")
        self.eventLoop = eventLoop
        self.resolutionNanos = UInt64(max(resolution.nanoseconds, 1))
        self.slots = Array(repeating: [], count: slotCount)
        self.mask = slotCount - 1
        self.now = now
        self.processedTick = now().uptimeNanoseconds / UInt64(max(resolution.nanoseconds, 1))
    }

    /// Timers armed now.
    package var armedCount: Int { count }

    /// Arms `timer` to fire after `delay` (re-arming it if it was armed).
    package func arm(_ timer: LoopTimer, in delay: TimeAmount) {
        arm(timer, at: now() + delay)
    }

    /// Arms `timer` to fire at `deadline` (re-arming it if it was armed).
    package func arm(_ timer: LoopTimer, at deadline: NIODeadline) {
        if timer.isArmed { cancel(timer) }
        // Rounded up, so a timer never fires early; and at least the tick after the last
        // processed one, which is the first the wheel will still look at.
        let tick = max((deadline.uptimeNanoseconds + resolutionNanos - 1) / resolutionNanos, processedTick + 1)
        timer.deadlineTick = tick
        timer.isArmed = true
        insert(timer)
        count += 1
        if tick < taskTick, !advancing { schedule(at: tick) }
    }

    /// Disarms `timer`; it will not fire. Harmless when it is nil or not armed.
    package func cancel(_ timer: LoopTimer?) {
        guard let timer, timer.isArmed else { return }
        timer.isArmed = false
        count -= 1
        guard timer.slot >= 0 else { return }  // taken out to fire: `isArmed` stops it
        let s = timer.slot, i = timer.index
        let last = slots[s].count - 1
        if i != last {
            let moved = slots[s][last]
            slots[s][i] = moved
            moved.index = i
        }
        slots[s].removeLast()
        timer.slot = -1
        timer.index = -1
        // The NIO task stays even when no timer is left: cancelling it would cost the heap
        // search this type exists to avoid, and a stale task wakes the loop once, finds
        // nothing, and is not renewed.
    }

    private func insert(_ timer: LoopTimer) {
        let s = Int(truncatingIfNeeded: timer.deadlineTick) & mask
        timer.slot = s
        timer.index = slots[s].count
        slots[s].append(timer)
    }

    private func schedule(at tick: UInt64) {
        task?.cancel()
        taskTick = tick
        task = eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(tick * resolutionNanos)) { [weak self] in
            self?.advance()
        }
    }

    /// Fires every timer due by now, then schedules the NIO task for the next occupied slot.
    func advance() {
        task = nil
        taskTick = .max
        let nowTick = now().uptimeNanoseconds / resolutionNanos
        var due: [LoopTimer] = []
        if nowTick > processedTick {
            // A gap of more than a rotation visits each slot once.
            let steps = min(nowTick - processedTick, UInt64(slots.count))
            var tick = nowTick - steps + 1
            while tick <= nowTick {
                let s = Int(truncatingIfNeeded: tick) & mask
                var i = 0
                while i < slots[s].count {
                    let t = slots[s][i]
                    if t.deadlineTick <= nowTick {
                        let last = slots[s].count - 1
                        if i != last {
                            slots[s][i] = slots[s][last]
                            slots[s][i].index = i
                        }
                        slots[s].removeLast()
                        t.slot = -1
                        t.index = -1
                        due.append(t)
                    } else {
                        i += 1
                    }
                }
                tick += 1
            }
            processedTick = nowTick
        }
        advancing = true
        // A timer cancelled meanwhile is disarmed; one re-armed meanwhile is back in a slot.
        for t in due where t.isArmed && t.slot < 0 {
            t.isArmed = false
            count -= 1
            t.fire()  // may arm or cancel timers, this one included
        }
        advancing = false
        if count > 0 { scheduleNextOccupied() }
    }

    /// Schedules the NIO task for the first occupied slot after the processed tick. Its timers
    /// may belong to a later rotation; then the task finds nothing due there and looks again.
    private func scheduleNextOccupied() {
        var tick = processedTick + 1
        for _ in 0..<slots.count {
            if !slots[Int(truncatingIfNeeded: tick) & mask].isEmpty { return schedule(at: tick) }
            tick += 1
        }
    }
}
