#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Dispatch
import NIOPosix

/// The threads that run the embedded store's blocking SQLite calls, below the data plane's
/// priority (nice 10).
///
/// Ledger and audit batches, chargeback reports and key loads are background work. On a
/// machine whose cores the event loops keep busy, a batch insert that ran at the loops'
/// priority took its time slices from them: with the MCP audit on, the p99 of a single
/// connection went from about 0.3 ms to about 0.9 ms. At nice 10 a loop gets the core back
/// sooner (that and smaller audit batches together brought it to about 0.6 ms), and the writer
/// still gets about a tenth of a busy core, more than the batches need at the gateway's rate
/// on one core.
package enum StoreThreads {
    /// Two threads: one writer can wait on the file lock while another reads.
    package static let pool: NIOThreadPool = {
        let count = 2
        let pool = NIOThreadPool(numberOfThreads: count)
        pool.start()
        // One job per thread, each held until all have started, so every thread lowers its
        // own priority exactly once.
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        for _ in 0..<count {
            pool.submit { _ in
                lowerPriority()
                started.signal()
                release.wait()
            }
        }
        for _ in 0..<count { started.wait() }
        for _ in 0..<count { release.signal() }
        return pool
    }()

    private static func lowerPriority() {
        #if os(Linux)
        // On Linux the nice value is per thread, and `who` 0 is the calling thread.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        #endif
    }
}

