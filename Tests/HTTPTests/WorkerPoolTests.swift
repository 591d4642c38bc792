import Dispatch
import Locking
import Testing
@testable import HTTP

/// The time limits only stop a deadlock from hanging the suite. In a full run on two cores these
/// tests, which take milliseconds alone, were reported over a one-minute limit after 110 s: the
/// clock runs while they wait for a thread that the tests waiting on server processes hold.
@Suite struct WorkerPoolTests {
    /// With every worker busy and the queue full, the next job is refused, not queued; once a
    /// job finishes there is room again. Driven by semaphores, so nothing depends on timing.
    @Test(.timeLimit(.minutes(5)))
    func aFullPoolRefusesUntilAJobFinishes() {
        let pool = WorkerPool(threads: 1, queueLimit: 1)
        defer { pool.stop() }
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let order = Locked([] as [String])
        #expect(pool.submit { started.signal(); release.wait(); order.withLock { $0.append("first") }; done.signal() })
        started.wait()
        #expect(pool.submit { order.withLock { $0.append("queued") }; done.signal() }, "one may wait")
        #expect(!pool.submit { order.withLock { $0.append("refused") } }, "the worker is busy and the queue is full")
        release.signal()
        done.wait()
        done.wait()
        #expect(pool.submit { order.withLock { $0.append("later") }; done.signal() })
        done.wait()
        #expect(order.withLock { $0 } == ["first", "queued", "later"])
    }

    @Test(.timeLimit(.minutes(5)))
    func stoppingFinishesTheQueuedJobsAndRefusesNewOnes() {
        let pool = WorkerPool(threads: 2, queueLimit: 8)
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<10 { #expect(pool.submit { done.signal() }) }
        pool.stop()
        for _ in 0..<10 { done.wait() }
        #expect(!pool.submit {})
    }
}
