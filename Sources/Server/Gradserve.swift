import Logging
import Model

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

    public init() {}
}

/// Which network the server trains.
public enum NetworkConfiguration: Sendable, Equatable {
    case mlp(layers: [Int])
    case gcn(features: Int, hidden: [Int], readout: GCN.Readout, maxNodes: Int, maxEdges: Int)

    func makeNetwork() throws(ModelError) -> any Network {
        switch self {
        case .mlp(let layers):
            try MLP(layers: layers)
        case .gcn(let features, let hidden, let readout, let maxNodes, let maxEdges):
            try GCN(features: features, hidden: hidden, readout: readout, maxNodes: maxNodes, maxEdges: maxEdges)
        }
    }

    /// The sizes reported by `/model`: [D, H1, H2] or [F, hidden...].
    var layers: [Int] {
        switch self {
        case .mlp(let layers): layers
        case .gcn(let features, let hidden, _, _, _): [features] + hidden
        }
    }

    var readout: GCN.Readout? {
        if case .gcn(_, _, let readout, _, _) = self { return readout }
        return nil
    }
}

/// A ready server: the HTTP listener bound and the training state created (or resumed).
public struct Gradserve: Sendable {
    public let server: HTTPServer
    public let store: TrainingStore
    private let state: StateDirectory?
    private let logger: Logger

    /// Builds exactly what the `gradserve` binary runs: model, state, routes and listener.
    public init(configuration: GradserveConfiguration, logger: Logger) throws {
        self.logger = logger
        let network = try configuration.network.makeNetwork()
        let optimizer = try Optimizer(configuration.optimizer)
        guard configuration.maxStaleness >= 0 else {
            throw ModelError.invalidConfiguration("max-staleness: expected 0 or more, got \(configuration.maxStaleness)")
        }
        let identity = StateFile.Identity(
            model: network.kind, layers: configuration.network.layers, readout: configuration.network.readout?.rawValue,
            optimizer: optimizer.configuration.kind, layout: network.layout)
        state = try configuration.stateDirectory.map { path throws(StateDirectory.Failure) in
            try StateDirectory(path: path, sync: configuration.sync)
        }
        let saved = try state?.load(expecting: identity)
        store = TrainingStore(
            network: network, optimizer: optimizer, identity: identity,
            parameters: saved?.parameters ?? network.makeParameters(configuration.initialization, seed: configuration.seed),
            optimizerState: saved?.optimizerState, version: saved?.version ?? 0,
            maxStaleness: configuration.maxStaleness, durable: configuration.sync == .always ? state : nil)
        if let state {
            if let saved {
                logger.info("resumed the training state", metadata: ["state": "\(state.stateFile)", "version": "\(saved.version)"])
            } else {
                try state.save(store.durableState().file)
            }
            if state.sync == .interval { state.startSaving(store, logger: logger) }
        }
        let app = GradserveApp(store: store, network: configuration.network, limits: configuration.requests,
                               access: configuration.access, logger: logger)
        server = try HTTPServer(configuration: configuration.http, handler: app, logger: logger)
    }

    /// After `server.wait()`: saves what the interval saver has not saved yet.
    public func finish() {
        guard let state else { return }
        state.stop()
        state.saveIfChanged(store, logger: logger)
    }
}
