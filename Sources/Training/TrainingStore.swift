import Dispatch
import Locking
import Model

/// The parameters, optimizer state and version that one server trains, shared by every loop.
///
/// Readers take an immutable snapshot (version and parameters together) under a short lock
/// and compute without holding it, so one request's results all come from one version.
/// Writers are serialised by a second lock; each builds the next parameters and publishes
/// them as a new snapshot, so readers never see a half-applied step.
public final class TrainingStore: Sendable {
    /// Parameters at one version, with the digest of the whole state at that version.
    /// Immutable once published.
    public struct Snapshot: Sendable {
        public let version: Int
        public let parameters: TensorSet
        /// `StateDigest` of version, parameters and optimizer state.
        public let digest: String
    }

    /// What writers own. Only touched under `writer`.
    struct WriterState {
        var optimizerState: OptimizerState
        /// Writes committed so far; tells the interval saver whether anything changed.
        var writeCount = 0
        /// Writes waiting for their turn (`whenVersion`), and whether a timer will look for those
        /// that waited too long.
        var waiters: [Waiter] = []
        var timerArmed = false
        var nextWaiter: UInt64 = 0
    }

    struct Waiter {
        let id: UInt64
        let version: Int
        let deadline: ContinuousClock.Instant
        let resume: @Sendable () -> Void
    }

    /// At most this many writes wait for their turn at once; more are not parked.
    public static let maxWaiting = 64

    public let network: any Network
    public let optimizer: Optimizer
    public let maxStaleness: Int
    /// What a saved state must match: model, sizes, optimizer.
    public let identity: StateFile.Identity
    private let current: Locked<Snapshot>
    private let writer: Locked<WriterState>
    /// With the `always` policy, every write is saved here before it is acknowledged or seen.
    private let durable: StateDirectory?

    public init(network: any Network, optimizer: Optimizer, identity: StateFile.Identity, parameters: TensorSet,
                optimizerState: OptimizerState? = nil, version: Int = 0, maxStaleness: Int = 0, durable: StateDirectory? = nil) {
        self.network = network
        self.optimizer = optimizer
        self.identity = identity
        self.maxStaleness = maxStaleness
        self.durable = durable
        let optimizerState = optimizerState ?? optimizer.makeState(for: network.layout)
        current = Locked(Snapshot(version: version, parameters: parameters,
                                  digest: StateDigest.make(version: version, parameters: parameters, optimizerState: optimizerState)))
        writer = Locked(WriterState(optimizerState: optimizerState))
    }

    public func snapshot() -> Snapshot {
        current.withLock { $0 }
    }

    var writeCount: Int { writer.withLock { $0.writeCount } }

    /// Why a write was refused.
    public enum WriteError: Error, Equatable {
        /// The client's base version is too old (or from the future); `current` is the version now.
        case versionConflict(base: Int, current: Int, maxStaleness: Int)
        /// The write asked for the current version to be `expected` (`if_version`), and it is `current`.
        case notAtVersion(expected: Int, current: Int)
        case invalid(ModelError)
        /// The state could not be saved, so the write was undone.
        case notPersisted(String)
    }

    /// One optimizer step with a posted gradient. With `baseVersion`, accepted only if the
    /// current version is at most `maxStaleness` steps ahead of it; with `ifVersion`, only if the
    /// current version is exactly that (so that a retried stale step cannot land twice). Returns
    /// the new snapshot and the learning rate the step used.
    public func apply(_ tensors: [String: Tensor], baseVersion: Int?, ifVersion: Int? = nil) throws(WriteError) -> (snapshot: Snapshot, learningRate: Float) {
        let update: GradientUpdate
        do { update = try GradientUpdate(layout: network.layout, tensors: tensors) } catch { throw .invalid(error) }
        return try apply(update, baseVersion: baseVersion, ifVersion: ifVersion)
    }

    /// The same with the gradients already checked against the layout.
    public func apply(_ update: GradientUpdate, baseVersion: Int?, ifVersion: Int? = nil) throws(WriteError) -> (snapshot: Snapshot, learningRate: Float) {
        var learningRate: Float = 0
        let snapshot = try commit { snapshot, optimizerState throws(WriteError) in
            if let baseVersion {
                guard baseVersion <= snapshot.version, snapshot.version - baseVersion <= maxStaleness else {
                    throw .versionConflict(base: baseVersion, current: snapshot.version, maxStaleness: maxStaleness)
                }
            }
            if let ifVersion, ifVersion != snapshot.version {
                throw .notAtVersion(expected: ifVersion, current: snapshot.version)
            }
            var parameters = snapshot.parameters
            learningRate = optimizer.learningRate(afterSteps: optimizerState.step)
            do throws(ModelError) {
                try optimizer.apply(update, to: &parameters, state: &optimizerState)
            } catch {
                throw .invalid(error)
            }
            return (snapshot.version + 1, parameters)
        }
        return (snapshot, learningRate)
    }

    /// Parks a write that arrived ahead of its turn: `resume` is called, on the thread of the write
    /// that makes it, once the version is `version` or later, or after `timeout` if it never got
    /// there (the write's own version check then tells which). Returns the wait's id (for `stopWaiting`), or nil, keeping
    /// nothing, when the version is already there, or `version` is more than `maxStaleness` ahead
    /// of it (no client that keeps to the staleness bound gets that far ahead), or `maxWaiting`
    /// writes wait already: the caller then goes on at once, and its own version check answers.
    public func whenVersion(reaches version: Int, timeout: Duration, _ resume: @escaping @Sendable () -> Void) -> UInt64? {
        let (id, arm) = writer.withLock { state -> (UInt64?, Bool) in
            let current = current.withLock { $0.version }
            guard version > current, version - current <= maxStaleness, state.waiters.count < Self.maxWaiting else { return (nil, false) }
            state.nextWaiter += 1
            state.waiters.append(Waiter(id: state.nextWaiter, version: version, deadline: .now + timeout, resume: resume))
            let arm = !state.timerArmed
            state.timerArmed = true
            return (state.nextWaiter, arm)
        }
        if arm { expireWaiters(after: timeout) }
        return id
    }

    /// Drops a wait that nobody needs any more (its client went away): its write never runs.
    public func stopWaiting(_ id: UInt64) {
        writer.withLock { $0.waiters.removeAll { $0.id == id } }
    }

    /// One timer at a time looks for writes that waited too long: it refuses them, and looks again
    /// when the oldest of the others is due.
    private func expireWaiters(after delay: Duration) {
        DispatchQueue.global().asyncAfter(deadline: .now() + max(delay / .seconds(1), 0)) { [weak self] in
            guard let self else { return }
            let now = ContinuousClock.now
            let (expired, next) = writer.withLock { state -> ([Waiter], ContinuousClock.Instant?) in
                let expired = state.waiters.filter { $0.deadline <= now }
                state.waiters.removeAll { $0.deadline <= now }
                let next = state.waiters.map(\.deadline).min()
                state.timerArmed = next != nil
                return (expired, next)
            }
            for waiter in expired { waiter.resume() }
            if let next { expireWaiters(after: next - now) }
        }
    }

    /// Writes that wait in `whenVersion`.
    public var waitingWrites: Int { writer.withLock { $0.waiters.count } }

    /// Replaces every parameter. With `expectedVersion`, only if it is the current version.
    public func replaceParameters(_ tensors: [String: Tensor], expectedVersion: Int?) throws(WriteError) -> Snapshot {
        let parameters: TensorSet
        do { parameters = try TensorSet(layout: network.layout, tensors: tensors) } catch { throw .invalid(error) }
        return try commit { snapshot, _ throws(WriteError) in
            if let expectedVersion, expectedVersion != snapshot.version {
                throw .versionConflict(base: expectedVersion, current: snapshot.version, maxStaleness: 0)
            }
            return (snapshot.version + 1, parameters)
        }
    }

    /// Everything needed to resume training elsewhere, read consistently.
    public func checkpoint() -> (snapshot: Snapshot, optimizerState: OptimizerState) {
        writer.withLock { state in (current.withLock { $0 }, state.optimizerState) }
    }

    /// The state to save, with the count of writes it includes.
    public func durableState() -> (file: StateFile, writeCount: Int) {
        writer.withLock { state in
            let snapshot = current.withLock { $0 }
            return (StateFile(identity: identity, version: snapshot.version, parameters: snapshot.parameters,
                              optimizerState: state.optimizerState), state.writeCount)
        }
    }

    /// Replaces parameters, optimizer state and version at once.
    @discardableResult
    public func restore(parameters: TensorSet, optimizerState restored: OptimizerState, version: Int) throws(WriteError) -> Snapshot {
        guard parameters.layout == network.layout, parameters.isFinite else {
            throw .invalid(.shapeMismatch("parameters: do not match this model's layout or are not finite"))
        }
        guard restored.matches(optimizer.configuration.kind, network.layout), restored.step >= 0,
              restored.first.allSatisfy(\.isFinite), restored.second.allSatisfy(\.isFinite) else {
            throw .invalid(.shapeMismatch("optimizer_state: does not match the \(optimizer.configuration.kind.rawValue) optimizer of this model"))
        }
        return try commit { _, optimizerState throws(WriteError) in
            optimizerState = restored
            return (version, parameters)
        }
    }

    /// Runs one write under the writer lock: `change` computes the next snapshot from the
    /// current one (and may update the optimizer state); the result is saved first when
    /// durable, then published. If `change` throws or the save fails, nothing changes.
    private func commit(_ change: (Snapshot, inout OptimizerState) throws(WriteError) -> (version: Int, parameters: TensorSet)) throws(WriteError) -> Snapshot {
        // Writes parked for the version this one makes go on once the lock is free.
        var ready: [Waiter] = []
        defer { for waiter in ready { waiter.resume() } }
        return try writer.withLock { (state: inout WriterState) throws(WriteError) -> Snapshot in
            let snapshot = current.withLock { $0 }
            var optimizerState = state.optimizerState
            if durable == nil {
                // Give up the stored reference so the optimizer updates its moments in place;
                // it changes nothing when it throws, so the state can go back as it was.
                state.optimizerState = OptimizerState(first: [], second: [])
            }
            let next: Snapshot
            do throws(WriteError) {
                let (version, parameters) = try change(snapshot, &optimizerState)
                next = Snapshot(version: version, parameters: parameters,
                                digest: StateDigest.make(version: version, parameters: parameters, optimizerState: optimizerState))
            } catch {
                if durable == nil { state.optimizerState = optimizerState }
                throw error
            }
            if let durable {
                do throws(StateDirectory.Failure) {
                    try durable.save(StateFile(identity: identity, version: next.version, parameters: next.parameters,
                                               optimizerState: optimizerState))
                } catch {
                    throw .notPersisted(error.description)
                }
            }
            state.optimizerState = optimizerState
            state.writeCount += 1
            current.withLock { $0 = next }
            if !state.waiters.isEmpty {
                ready = state.waiters.filter { $0.version <= next.version }
                state.waiters.removeAll { $0.version <= next.version }
            }
            return next
        }
    }
}
