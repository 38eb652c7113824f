@testable import GatewayCore
import NIOCore
import NIOEmbedded
import Testing

/// The timing wheel on an embedded loop, whose clock only moves when the test moves it.
@Suite struct LoopTimersTests {
    final class Fired {
        var names: [String] = []
    }

    let loop = EmbeddedEventLoop()

    func makeTimers(resolution: TimeAmount = .milliseconds(10), slots: Int = 64) -> LoopTimers {
        LoopTimers(eventLoop: loop, resolution: resolution, slotCount: slots, now: { [loop] in loop.now })
    }

    @Test func firesOnOrAfterTheDeadlineAndNeverEarly() {
        let timers = makeTimers()
        let fired = Fired()
        let t = LoopTimer { fired.names.append("t") }
        timers.arm(t, in: .milliseconds(25))
        loop.advanceTime(by: .milliseconds(24))
        #expect(fired.names.isEmpty)
        #expect(t.isArmed)
        // Rounded up to the 10 ms tick: due at 30 ms.
        loop.advanceTime(by: .milliseconds(6))
        #expect(fired.names == ["t"])
        #expect(!t.isArmed)
        #expect(timers.armedCount == 0)
    }

    @Test func aCancelledTimerNeverFiresAndCancellingTwiceIsHarmless() {
        let timers = makeTimers()
        let fired = Fired()
        let a = LoopTimer { fired.names.append("a") }
        let b = LoopTimer { fired.names.append("b") }
        let c = LoopTimer { fired.names.append("c") }
        // Same slot: cancelling the first swaps the last into its place.
        timers.arm(a, in: .milliseconds(50))
        timers.arm(b, in: .milliseconds(50))
        timers.arm(c, in: .milliseconds(50))
        timers.cancel(a)
        timers.cancel(a)
        timers.cancel(nil)
        #expect(timers.armedCount == 2)
        loop.advanceTime(by: .milliseconds(60))
        #expect(fired.names.sorted() == ["b", "c"])
    }

    @Test func reArmingMovesTheDeadline() {
        let timers = makeTimers()
        let fired = Fired()
        let t = LoopTimer { fired.names.append("t") }
        timers.arm(t, in: .milliseconds(20))
        timers.arm(t, in: .milliseconds(100))
        #expect(timers.armedCount == 1)
        loop.advanceTime(by: .milliseconds(50))
        #expect(fired.names.isEmpty)
        loop.advanceTime(by: .milliseconds(50))
        #expect(fired.names == ["t"])
    }

    @Test func deadlinesBeyondOneRotationWaitForTheirTurn() {
        // 8 slots of 10 ms: one rotation is 80 ms.
        let timers = makeTimers(slots: 8)
        let fired = Fired()
        let far = LoopTimer { fired.names.append("far") }
        let near = LoopTimer { fired.names.append("near") }
        timers.arm(far, in: .milliseconds(250))
        timers.arm(near, in: .milliseconds(10))
        loop.advanceTime(by: .milliseconds(10))
        #expect(fired.names == ["near"])
        // `far` (tick 25) sits in slot 1, visited at ticks 1, 9 and 17 before it is due.
        loop.advanceTime(by: .milliseconds(200))
        #expect(fired.names == ["near"])
        loop.advanceTime(by: .milliseconds(40))
        #expect(fired.names == ["near", "far"])
    }

    @Test func aJumpOfManyRotationsFiresEverythingDueOnce() {
        let timers = makeTimers(slots: 8)
        let fired = Fired()
        let all = (0..<20).map { i in LoopTimer { fired.names.append("\(i)") } }
        for (i, t) in all.enumerated() { timers.arm(t, in: .milliseconds(Int64(10 * (i + 1)))) }
        loop.advanceTime(by: .seconds(5))
        #expect(fired.names.count == 20)
        #expect(Set(fired.names).count == 20)
        #expect(timers.armedCount == 0)
    }

    @Test func aFiringTimerMayArmAndCancelOthers() {
        let timers = makeTimers()
        let fired = Fired()
        var later: LoopTimer!
        var victim: LoopTimer!
        let first = LoopTimer {
            fired.names.append("first")
            timers.cancel(victim)
            timers.arm(later, in: .milliseconds(30))
        }
        victim = LoopTimer { fired.names.append("victim") }
        later = LoopTimer { fired.names.append("later") }
        // Both due in the same tick: whichever fires first, the victim must not fire after
        // being cancelled (it was taken out of its slot already).
        timers.arm(first, in: .milliseconds(10))
        timers.arm(victim, in: .milliseconds(10))
        loop.advanceTime(by: .milliseconds(10))
        #expect(fired.names.first == "first" || fired.names == ["victim", "first"])
        #expect(fired.names.filter { $0 == "victim" }.count <= 1)
        loop.advanceTime(by: .milliseconds(30))
        #expect(fired.names.last == "later")
    }

    @Test func aTimerArmedEarlierThanTheScheduledWakeUpFiresOnTime() {
        let timers = makeTimers()
        let fired = Fired()
        let slow = LoopTimer { fired.names.append("slow") }
        let quick = LoopTimer { fired.names.append("quick") }
        timers.arm(slow, in: .seconds(1))
        timers.arm(quick, in: .milliseconds(10))
        loop.advanceTime(by: .milliseconds(10))
        #expect(fired.names == ["quick"])
        loop.advanceTime(by: .seconds(1))
        #expect(fired.names == ["quick", "slow"])
    }

    @Test func aTimerReArmedFromItsOwnActionKeepsGoing() {
        let timers = makeTimers()
        let fired = Fired()
        var t: LoopTimer!
        t = LoopTimer {
            fired.names.append("tick")
            if fired.names.count < 3 { timers.arm(t, in: .milliseconds(10)) }
        }
        timers.arm(t, in: .milliseconds(10))
        for _ in 0..<5 { loop.advanceTime(by: .milliseconds(10)) }
        #expect(fired.names == ["tick", "tick", "tick"])
        #expect(timers.armedCount == 0)
    }
}
