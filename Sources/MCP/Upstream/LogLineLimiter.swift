import NIOConcurrencyHelpers
import NIOCore

/// What an upstream makes the gateway log, bounded: a stdio server's stderr, the log messages a
/// shared server sends outside any call. At most `perSecond` lines a second (each cut to
/// `maxLineBytes`), the rest counted and said once when logging resumes. 22 MB of stderr once
/// became 50 MB of log in 3 s.
final class LogLineLimiter: Sendable {
    private struct State {
        var windowStart: NIODeadline
        var inWindow = 0
        var suppressed = 0
    }

    private let state: NIOLockedValueBox<State>
    private let perSecond: Int
    private let maxLineBytes: Int

    init(perSecond: Int = 20, maxLineBytes: Int = 1000, now: NIODeadline = .now()) {
        self.perSecond = perSecond
        self.maxLineBytes = maxLineBytes
        state = NIOLockedValueBox(State(windowStart: now))
    }

    /// The lines to log now (each cut to `maxLineBytes`), and how many were left out since the
    /// last lines logged (to say so before them).
    func admit<S: Sequence>(_ lines: S, now: NIODeadline = .now()) -> (lines: [String], suppressedBefore: Int) where S.Element == Substring {
        state.withLockedValue { s in
            var out: [String] = []
            var said = 0
            for line in lines {
                if now - s.windowStart >= .seconds(1) {
                    s.windowStart = now
                    s.inWindow = 0
                }
                guard s.inWindow < perSecond else {
                    s.suppressed += 1
                    continue
                }
                if out.isEmpty, s.suppressed > 0 {
                    said = s.suppressed
                    s.suppressed = 0
                }
                s.inWindow += 1
                out.append(line.utf8.count > maxLineBytes ? String(decoding: line.utf8.prefix(maxLineBytes), as: UTF8.self) + "…" : String(line))
            }
            return (out, said)
        }
    }
}
