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
    /// Most samples accepted in one `/forward` or `/gradients` request.
    public var maxSamples = 100_000
    public var access = AccessControl.open

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

/// A ready server: the HTTP listener bound and the training state created.
public struct Gradserve: Sendable {
    public let server: HTTPServer
    public let store: TrainingStore

    /// Builds exactly what the `gradserve` binary runs: model, state, routes and listener.
    public init(configuration: GradserveConfiguration, logger: Logger) throws {
        let network = try configuration.network.makeNetwork()
        let optimizer = try Optimizer(configuration.optimizer)
        guard configuration.maxStaleness >= 0 else {
            throw ModelError.invalidConfiguration("max-staleness: expected 0 or more, got \(configuration.maxStaleness)")
        }
        store = TrainingStore(
            network: network, optimizer: optimizer,
            parameters: network.makeParameters(configuration.initialization, seed: configuration.seed),
            maxStaleness: configuration.maxStaleness)
        let app = GradserveApp(store: store, network: configuration.network, maxSamples: configuration.maxSamples,
                               access: configuration.access, logger: logger)
        server = try HTTPServer(configuration: configuration.http, handler: app, logger: logger)
    }
}
