import Model
import Synchronization

/// The parameters, optimizer state and version that one server trains, shared by every loop.
///
/// Readers take an immutable snapshot (version and parameters together) under a short lock
/// and compute without holding it, so one request's results all come from one version.
/// Writers are serialised by a second lock; each builds the next parameters and publishes
/// them as a new snapshot, so readers never see a half-applied step.
public final class TrainingStore: Sendable {
    /// Parameters at one version. Immutable once published.
    public struct Snapshot: Sendable {
        public let version: Int
        public let parameters: TensorSet
    }

    /// What writers own: the optimizer's state. Only touched under `writer`.
    struct WriterState {
        var optimizerState: OptimizerState
    }

    public let network: any Network
    public let optimizer: Optimizer
    public let maxStaleness: Int
    private let current: Mutex<Snapshot>
    private let writer: Mutex<WriterState>

    public init(network: any Network, optimizer: Optimizer, parameters: TensorSet,
                optimizerState: OptimizerState? = nil, version: Int = 0, maxStaleness: Int = 0) {
        self.network = network
        self.optimizer = optimizer
        self.maxStaleness = maxStaleness
        current = Mutex(Snapshot(version: version, parameters: parameters))
        writer = Mutex(WriterState(optimizerState: optimizerState ?? optimizer.makeState(for: network.layout)))
    }

    public func snapshot() -> Snapshot {
        current.withLock { $0 }
    }

    /// The optimizer's step count (for `/model`).
    public var optimizerStep: Int {
        writer.withLock { $0.optimizerState.step }
    }

    /// Why a write was refused.
    public enum WriteError: Error, Equatable {
        /// The client's base version is too old (or from the future); `current` is the version now.
        case versionConflict(base: Int, current: Int, maxStaleness: Int)
        case invalid(ModelError)
    }

    /// One optimizer step with a posted gradient. With `baseVersion`, accepted only if the
    /// current version is at most `maxStaleness` steps ahead of it. Returns the new version.
    public func apply(_ tensors: [String: Tensor], baseVersion: Int?) throws(WriteError) -> Int {
        let update: GradientUpdate
        do { update = try GradientUpdate(layout: network.layout, tensors: tensors) } catch { throw .invalid(error) }
        return try writer.withLock { (state: inout WriterState) throws(WriteError) -> Int in
            let snapshot = current.withLock { $0 }
            if let baseVersion {
                guard baseVersion <= snapshot.version, snapshot.version - baseVersion <= maxStaleness else {
                    throw .versionConflict(base: baseVersion, current: snapshot.version, maxStaleness: maxStaleness)
                }
            }
            var parameters = snapshot.parameters
            do throws(ModelError) {
                try optimizer.apply(update, to: &parameters, state: &state.optimizerState)
            } catch {
                throw .invalid(error)
            }
            return publish(parameters, after: snapshot)
        }
    }

    /// Replaces every parameter. With `expectedVersion`, only if it is the current version.
    public func replaceParameters(_ tensors: [String: Tensor], expectedVersion: Int?) throws(WriteError) -> Int {
        let parameters: TensorSet
        do { parameters = try TensorSet(layout: network.layout, tensors: tensors) } catch { throw .invalid(error) }
        return try writer.withLock { (_: inout WriterState) throws(WriteError) -> Int in
            let snapshot = current.withLock { $0 }
            if let expectedVersion, expectedVersion != snapshot.version {
                throw .versionConflict(base: expectedVersion, current: snapshot.version, maxStaleness: 0)
            }
            return publish(parameters, after: snapshot)
        }
    }

    /// Everything needed to resume training elsewhere, read consistently.
    public func checkpoint() -> (snapshot: Snapshot, optimizerState: OptimizerState) {
        writer.withLock { state in (current.withLock { $0 }, state.optimizerState) }
    }

    /// Replaces parameters, optimizer state and version at once.
    public func restore(parameters: TensorSet, optimizerState: OptimizerState, version: Int) throws(WriteError) {
        guard parameters.layout == network.layout, parameters.isFinite else {
            throw .invalid(.shapeMismatch("parameters: do not match this model's layout or are not finite"))
        }
        guard optimizerState.matches(optimizer.configuration.kind, network.layout), optimizerState.step >= 0,
              optimizerState.first.allSatisfy(\.isFinite), optimizerState.second.allSatisfy(\.isFinite) else {
            throw .invalid(.shapeMismatch("optimizer_state: does not match the \(optimizer.configuration.kind.rawValue) optimizer of this model"))
        }
        writer.withLock { state in
            state.optimizerState = optimizerState
            current.withLock { $0 = Snapshot(version: version, parameters: parameters) }
        }
    }

    private func publish(_ parameters: TensorSet, after snapshot: Snapshot) -> Int {
        let next = Snapshot(version: snapshot.version + 1, parameters: parameters)
        current.withLock { $0 = next }
        return next.version
    }
}
