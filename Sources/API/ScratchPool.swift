import Locking
import Model

/// Working memory for model computations, lent to one request at a time.
///
/// A scratch keeps the buffers of the largest request it served (and the block of its last
/// per-sample gradients, so that the next such answer is not faulted in afresh), so the pool keeps
/// at most `maxKept` of them, and none larger than `maxKeptBytes`: one burst of huge requests does
/// not hold more than that for the life of the server.
final class ScratchPool: Sendable {
    private let kept = Locked([] as [Scratch])
    let maxKept: Int
    let maxKeptBytes: Int

    init(maxKept: Int, maxKeptBytes: Int = 64 << 20) {
        self.maxKept = maxKept
        self.maxKeptBytes = maxKeptBytes
    }

    func with<T>(_ body: (Scratch) throws -> T) rethrows -> T {
        let scratch = kept.withLock { $0.popLast() } ?? Scratch()
        defer {
            if scratch.byteCount <= maxKeptBytes {
                kept.withLock { if $0.count < maxKept { $0.append(scratch) } }
            }
        }
        return try body(scratch)
    }

    /// How many scratches are kept now (for tests).
    var keptCount: Int { kept.withLock { $0.count } }
}
