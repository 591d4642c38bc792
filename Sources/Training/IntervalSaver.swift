import Foundation
import Locking
import Synchronization

/// The `interval` saving policy: a thread that saves the store's state to its folder once a
/// second when it has changed, and once more when stopped. (With `always`, the store saves
/// each write itself before acknowledging it.)
public final class IntervalSaver: Sendable {
    private let store: TrainingStore
    private let directory: StateDirectory
    private let report: @Sendable (StateDirectory.Failure) -> Void
    /// The store's write count at the last save.
    private let lastSaved: Locked<Int>
    private let stopped = Atomic<Bool>(false)

    /// `report` hears about saves that failed (the next change is tried again).
    public init(store: TrainingStore, directory: StateDirectory, report: @escaping @Sendable (StateDirectory.Failure) -> Void) {
        self.store = store
        self.directory = directory
        self.report = report
        lastSaved = Locked(store.writeCount)
    }

    public func start() {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 1)
                saveIfChanged()
            }
        }
        thread.name = "gradserve-state"
        thread.start()
    }

    /// Stops the thread and saves what it has not saved yet.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        saveIfChanged()
    }

    private func saveIfChanged() {
        lastSaved.withLock { last in
            let state = store.durableState()
            guard state.writeCount != last else { return }
            do throws(StateDirectory.Failure) {
                try directory.save(state.file)
                last = state.writeCount
            } catch {
                report(error)
            }
        }
    }
}
