#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// When a thread that waits for I/O should look for it without sleeping.
///
/// On a virtual machine, waking a sleeping thread costs about 0.1 ms (`gradbench pingpong`: a
/// 64-byte TCP round trip on loopback between two threads took 202.9 µs when both sleep in `recv`,
/// 20.1 µs when both poll), which is more than a small request takes to serve. So after work, a thread polls
/// for up to `window` before it sleeps. It does so only while that pays: after `misses` waits in a
/// row that outlasted the window (a slow peer, or a host held to a fraction of a core) it sleeps at
/// once, and polls again on one wait in `probeEvery` to see whether waits became short. (A wait
/// measured while sleeping includes the wake-up, so only a polled wait tells.)
public struct BusyPoll: Sendable {
    /// In nanoseconds; 0 never polls.
    public let window: Int64
    private var waitStarted: Int64 = 0
    /// Waits in a row that outlasted the window.
    private var longWaits = 0
    static let misses = 4
    static let probeEvery = 32

    public init(window: Duration) {
        let (seconds, attoseconds) = window.components
        self.window = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// The monotonic clock in nanoseconds.
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// The thread starts waiting at `now`.
    public mutating func beginWait(at now: Int64) {
        waitStarted = now
    }

    /// What it waited for came at `now`.
    public mutating func endWait(at now: Int64) {
        longWaits = now - waitStarted <= window ? 0 : longWaits + 1
    }

    /// Whether the thread should look without sleeping at `now`.
    public func shouldPoll(at now: Int64) -> Bool {
        window > 0 && now - waitStarted < window && (longWaits < Self.misses || longWaits % Self.probeEvery == 0)
    }
}

/// Lets at most one of several threads poll at a time (the others sleep), so that threads that
/// poll never take more cores than the one the slot stands for: a server's event loops share one,
/// leaving the other cores to the work and to a client on the same machine.
public final class BusyPollSlot: Sendable {
    private let taken = Atomic<Bool>(false)

    public init() {}

    /// Takes the slot if it is free; true when the caller now holds it.
    public func take() -> Bool {
        taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    /// Frees the slot; only its holder calls this.
    public func release() {
        taken.store(false, ordering: .releasing)
    }
}
