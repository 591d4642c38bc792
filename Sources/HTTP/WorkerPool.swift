import Dispatch
import Foundation
import Locking

/// A fixed set of threads for requests too heavy to run on an event loop, with a bounded queue.
///
/// At most `threads` requests run at once (the core count by default, so heavy requests cannot
/// oversubscribe the machine), and at most `queueLimit` more wait; past that `submit` refuses, and
/// the connection answers 503 with `Retry-After`, rather than letting a burst pile up without bound.
final class WorkerPool: Sendable {
    private let queue = Locked(Queue())
    /// One signal per queued job, and one per thread when stopping.
    private let ready = DispatchSemaphore(value: 0)
    private let threads: Int
    let queueLimit: Int

    private struct Queue {
        var jobs: [@Sendable () -> Void] = []
        var head = 0
        var stopped = false
        /// Jobs submitted and not yet finished: running or waiting.
        var inPool = 0
    }

    init(threads: Int, queueLimit: Int) {
        self.threads = max(1, threads)
        self.queueLimit = queueLimit
        for index in 0..<self.threads {
            let thread = Thread { [self] in
                while let job = next() {
                    job()
                    queue.withLock { $0.inPool -= 1 }
                }
            }
            thread.name = "gradserve-worker-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Queues `job`; false when the queue is full or the pool stopped (the job is not run).
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = queue.withLock { queue in
            guard !queue.stopped, queue.inPool < threads + queueLimit else { return false }
            queue.jobs.append(job)
            queue.inPool += 1
            return true
        }
        if accepted { ready.signal() }
        return accepted
    }

    /// The threads finish the queued jobs, then end.
    func stop() {
        queue.withLock { $0.stopped = true }
        for _ in 0..<threads { ready.signal() }
    }

    /// The next job; nil once stopped and drained.
    private func next() -> (@Sendable () -> Void)? {
        ready.wait()
        return queue.withLock { queue in
            guard queue.head < queue.jobs.count else { return nil }
            let job = queue.jobs[queue.head]
            queue.head += 1
            if queue.head == queue.jobs.count {
                queue.jobs.removeAll(keepingCapacity: true)
                queue.head = 0
            }
            return job
        }
    }
}
