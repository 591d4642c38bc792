#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex.
///
/// Used instead of `Synchronization.Mutex` because on Linux that lock is built on futexes
/// inside the standard library, where ThreadSanitizer cannot see it, so every access it
/// protects was reported as a race under `make tsan`. A pthread mutex is understood by TSan.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

extension Locked {
    /// Empties a locked list and returns what it held: one lock, no copy.
    public func takeAll<Element>() -> [Element] where Value == [Element] {
        withLock { items in
            var taken: [Element] = []
            swap(&taken, &items)
            return taken
        }
    }
}
