import HTTP
import Logging
import Model
import Training
import Wire

/// Everything `gradserve` is started with. The executable fills it from its options;
/// tests build the same server from it.
public struct GradserveConfiguration: Sendable {
    public var http = HTTPServer.Configuration()
    public var network: NetworkConfiguration = .mlp(layers: [3, 3, 3])
    public var initialization = Initialization.glorot
    public var seed: UInt64 = 42
    public var optimizer = OptimizerConfiguration()
    /// How many versions an `/apply` base version may lag behind.
    public var maxStaleness = 0
    public var requests = RequestLimits()
    public var access = AccessControl.open
    /// Where the training state is kept across restarts; nil keeps it in memory only.
    public var stateDirectory: String?
    /// The state to start from (a checkpoint file) instead of the seed, unless `stateDirectory`
    /// already holds a saved state, which wins.
    public var initialState: CheckpointFile?
    public var sync = StateDirectory.Sync.interval

    public init() {}
}

/// How much one API request may ask of the server.
public struct RequestLimits: Sendable {
    /// Most samples in one `/forward` or `/gradients` request.
    public var maxSamples = 100_000
    /// Most gradient values one per-sample `/gradients` answer may hold (samples x parameters):
    /// the answer is built in memory, so this bounds what one request can make the server allocate.
    public var maxGradientValues = 1 << 25
    /// How long a `/step` sent ahead of its turn (its `if_version` up to `max_staleness` ahead of
    /// the current version) waits for the steps before it, before it is refused with 409.
    public var stepWait: Duration = .seconds(10)

    public init() {}
}

/// Which network the server trains.
public enum NetworkConfiguration: Sendable, Equatable {
    case mlp(layers: [Int], options: NetworkOptions = NetworkOptions())
    case gcn(features: Int, hidden: [Int], readout: GCN.Readout, maxNodes: Int, maxEdges: Int, options: NetworkOptions = GCN.defaultOptions)

    func makeNetwork() throws(ModelError) -> any Network {
        switch self {
        case .mlp(let layers, let options):
            try MLP(layers: layers, options: options)
        case .gcn(let features, let hidden, let readout, let maxNodes, let maxEdges, let options):
            try GCN(features: features, hidden: hidden, readout: readout, maxNodes: maxNodes, maxEdges: maxEdges, options: options)
        }
    }

    /// The sizes reported by `/model`: [D, H1, ..., Hn] or [F, hidden...].
    var layers: [Int] {
        switch self {
        case .mlp(let layers, _): layers
        case .gcn(let features, let hidden, _, _, _, _): [features] + hidden
        }
    }

    var readout: GCN.Readout? {
        if case .gcn(_, _, let readout, _, _, _) = self { return readout }
        return nil
    }

    var options: NetworkOptions {
        switch self {
        case .mlp(_, let options), .gcn(_, _, _, _, _, let options): options
        }
    }
}

/// A ready service: the model, the training state (created or resumed) and the app that serves
/// it. `gradserve` and the tests build it the same way; the binary then puts it behind an
/// `HTTPServer`, the tests call `app.handle(_:)` directly.
public struct Gradserve: Sendable {
    public let app: GradserveApp
    public let store: TrainingStore
    private let saver: IntervalSaver?

    /// Why the service could not be built: a bad configuration, or a state folder it must not use.
    public enum Failure: Error, CustomStringConvertible {
        case configuration(ModelError)
        case state(StateDirectory.Failure)
        /// The initial state does not fit this server's model.
        case initialState(String)

        public var description: String {
            switch self {
            case .configuration(let error): error.message
            case .state(let error): error.description
            case .initialState(let message): message
            }
        }
    }

    public init(configuration: GradserveConfiguration, logger: Logger) throws(Failure) {
        let network: any Network, optimizer: Optimizer
        do throws(ModelError) {
            network = try configuration.network.makeNetwork()
            optimizer = try Optimizer(configuration.optimizer)
            guard configuration.maxStaleness >= 0 else {
                throw .invalidConfiguration("max-staleness: expected 0 or more, got \(configuration.maxStaleness)")
            }
        } catch {
            throw .configuration(error)
        }
        let identity = StateFile.Identity(
            model: network.kind, layers: configuration.network.layers, readout: configuration.network.readout?.rawValue,
            options: network.options, optimizer: optimizer.configuration.kind, layout: network.layout)
        let state: StateDirectory?, saved: StateFile?
        do throws(StateDirectory.Failure) {
            state = try configuration.stateDirectory.map { path throws(StateDirectory.Failure) in
                try StateDirectory(path: path, sync: configuration.sync)
            }
            saved = try state?.load(expecting: identity)
        } catch {
            throw .state(error)
        }
        let store = TrainingStore(
            network: network, optimizer: optimizer, identity: identity,
            parameters: saved?.parameters ?? network.makeParameters(configuration.initialization, seed: configuration.seed),
            optimizerState: saved?.optimizerState, version: saved?.version ?? 0,
            maxStaleness: configuration.maxStaleness, durable: configuration.sync == .always ? state : nil)
        if let initial = configuration.initialState, saved == nil {
            let this = ModelDescription(
                model: network.kind, layers: configuration.network.layers, readout: configuration.network.readout?.rawValue,
                options: network.options, layout: network.layout, optimizer: .init(configuration: optimizer.configuration, step: 0, currentLearningRate: 0),
                maxStaleness: configuration.maxStaleness, version: 0)
            if let problem = initial.mismatch(with: this) { throw .initialState(problem) }
            let checkpoint = initial.checkpoint
            do throws(TrainingStore.WriteError) {
                try store.restore(parameters: checkpoint.parameters, optimizerState: checkpoint.optimizerState, version: checkpoint.version)
            } catch {
                throw .initialState("the checkpoint cannot be used: \(error.message)")
            }
        }
        if let state {
            if let saved {
                logger.info("resumed the training state", metadata: ["state": "\(state.stateFile)", "version": "\(saved.version)"])
            } else {
                do throws(StateDirectory.Failure) { try state.save(store.durableState().file) } catch { throw .state(error) }
            }
        }
        saver = state.flatMap { state in
            guard state.sync == .interval else { return nil }
            let saver = IntervalSaver(store: store, directory: state) { error in
                logger.error("could not save the training state", metadata: ["error": "\(error)"])
            }
            saver.start()
            return saver
        }
        self.store = store
        app = GradserveApp(store: store, network: configuration.network, limits: configuration.requests,
                           access: configuration.access, scratch: ScratchPool(maxKept: configuration.http.threads + configuration.http.workers,
                                                                 // The working buffers, and the block of the largest per-sample answer allowed.
                                                                 maxKeptBytes: (64 << 20) + 4 * configuration.requests.maxGradientValues),
                           logger: logger)
    }

    /// The listener that serves `app`, bound but not yet started.
    public func makeServer(_ configuration: HTTPServer.Configuration, logger: Logger) throws -> HTTPServer {
        try HTTPServer(configuration: configuration, handler: app, logger: logger)
    }

    /// After the server has stopped: saves what the interval saver has not saved yet.
    public func finish() {
        saver?.stop()
    }
}
