import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import API
import CommandSupport
import HTTP
import Logging
import Model
import Training
import Wire

@main
struct GradserveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradserve",
        abstract: "Serve a neural network's per-sample gradients and optimizer steps over HTTP/JSON.")

    @Option(help: "Address to listen on. Anything but loopback exposes the server: put TLS in front.")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one (printed on the first line of stdout).")
    var port: UInt16 = 8080
    @Option(help: "mlp (dense, samples {\"x\": [...]}) or gcn (graph convolutions, samples {\"nodes\": [[...]], \"edges\": [[i, j]]}).")
    var model: ModelKind = .mlp
    @Option(help: "mlp: sizes D,H1,H2.")
    var layers = "3,3,3"
    @Option(help: "gcn: features per node.")
    var features = 23
    @Option(help: "gcn: widths of the graph-convolution layers.")
    var hidden = "64,64"
    @Option(help: "gcn: sum or mean over nodes.")
    var readout: GCN.Readout = .sum
    @Option(help: "gcn: most nodes in one graph.")
    var maxNodes = 10_000
    @Option(help: "gcn: most edges in one graph.")
    var maxEdges = 100_000
    @Option(help: "Seed of the initial parameters.")
    var seed: UInt64 = 42
    @Option(name: .customLong("init"), help: "Initial weights: glorot or uniform01 (biases start at zero).")
    var initialization: Initialization = .glorot
    @Option(help: "sgd, momentum or adam.")
    var optimizer: OptimizerConfiguration.Kind = .sgd
    @Option(help: "Learning rate.")
    var lr: Float = 0.001
    @Option(help: "Momentum coefficient (momentum optimizer).")
    var momentum: Float = 0.9
    @Option(help: "Adam's beta1.")
    var beta1: Float = 0.9
    @Option(help: "Adam's beta2.")
    var beta2: Float = 0.999
    @Option(help: "Adam's epsilon.")
    var epsilon: Float = 1e-8
    @Option(help: "Clip each posted gradient to this global L2 norm.")
    var clipNorm: Float?
    @Option(help: "Learning-rate schedule: constant or cosine.")
    var lrSchedule: ScheduleKind = .constant
    @Option(help: "Cosine schedule: steps over which the rate decays.")
    var lrDecaySteps = 1000
    @Option(help: "Cosine schedule: final rate as a fraction of --lr.")
    var lrFinalFactor: Float = 0.0
    @Option(help: "How many versions an /apply base version may lag behind.")
    var maxStaleness = 0
    @Option(help: "Event-loop threads (default: one per core).")
    var threads = HTTPServer.coreCount
    @Option(help: "Worker threads for requests with bodies of 16 KiB or more (default: one per core).")
    var workers = HTTPServer.coreCount
    @Option(help: "Such requests that may wait for a worker; more are answered 503 with Retry-After.")
    var maxQueuedRequests = 64
    @Option(help: "Largest request body in bytes.")
    var maxBodyBytes = 64 * 1024 * 1024
    @Option(help: "Most samples in one request.")
    var maxSamples = 100_000
    @Option(help: "Most gradient values (samples x parameters) in one per-sample /gradients answer.")
    var maxGradientValues = 1 << 25
    @Option(help: "Seconds a request may take to arrive, and a response to be read.")
    var requestTimeout = 30.0
    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var idleTimeout = 120.0
    @Option(help: "Folder that keeps the parameters, optimizer state and version across restarts (resumed on start).")
    var state: String?
    @Option(help: "With --state: always (a write is acknowledged once on disk) or interval (saved every second and on shutdown).")
    var fsync: StateDirectory.Sync = .interval
    @Option(help: "Start from this checkpoint file (written by gradctl checkpoint save) instead of the seed; a state already saved in --state wins.")
    var initFrom: String?
    @Option(help: "File holding the bearer token that /apply, PUT /params and PUT /checkpoint need (or set GRADSERVE_TOKEN).")
    var tokenFile: String?
    @Flag(help: "Require the token for the read endpoints too (all but /health).")
    var readToken = false
    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    enum ScheduleKind: String, ExpressibleByArgument { case constant, cosine }
    enum ModelKind: String, ExpressibleByArgument { case mlp, gcn }

    func makeConfiguration() throws -> GradserveConfiguration {
        var configuration = GradserveConfiguration()
        configuration.http.host = host
        configuration.http.port = port
        configuration.http.threads = threads
        configuration.http.workers = workers
        configuration.http.maxQueuedRequests = maxQueuedRequests
        configuration.http.limits.maxBodyBytes = maxBodyBytes
        configuration.http.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        configuration.http.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        switch model {
        case .mlp:
            configuration.network = .mlp(layers: try SizeList.parse(layers, option: "--layers"))
        case .gcn:
            configuration.network = .gcn(features: features, hidden: try SizeList.parse(hidden, option: "--hidden"),
                                         readout: readout, maxNodes: maxNodes, maxEdges: maxEdges)
        }
        configuration.initialization = initialization
        configuration.seed = seed
        configuration.optimizer = OptimizerConfiguration(
            kind: optimizer, learningRate: lr, momentum: momentum, beta1: beta1, beta2: beta2, epsilon: epsilon,
            clipNorm: clipNorm,
            schedule: lrSchedule == .cosine ? .cosine(decaySteps: lrDecaySteps, finalFactor: lrFinalFactor) : .constant)
        configuration.maxStaleness = maxStaleness
        configuration.requests.maxSamples = maxSamples
        configuration.requests.maxGradientValues = maxGradientValues
        configuration.access = AccessControl(token: try token(), protectReads: readToken)
        configuration.stateDirectory = state
        if let initFrom {
            guard let data = FileManager.default.contents(atPath: initFrom) else { throw ValidationError("--init-from: cannot read \(initFrom)") }
            do { configuration.initialState = try CheckpointFile(decoding: [UInt8](data)) } catch {
                throw ValidationError("--init-from \(initFrom): \(error)")
            }
        }
        configuration.sync = fsync
        return configuration
    }

    /// The token from --token-file or GRADSERVE_TOKEN, if either is given.
    func token() throws -> String? {
        let token = try BearerToken.load(file: tokenFile)
        if readToken, token == nil {
            throw ValidationError("--read-token needs a token: --token-file FILE or GRADSERVE_TOKEN")
        }
        return token
    }

    func run() throws {
        var logger = Logger(label: "gradserve")
        logger.logLevel = logLevel
        let configuration = try makeConfiguration()
        // Block the stop signals before any thread starts, so that only `sigwait` below sees them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let gradserve: Gradserve
        do {
            gradserve = try Gradserve(configuration: configuration, logger: logger)
        } catch .configuration(let error) {
            throw ValidationError(error.message)
        } catch .initialState(let message) {
            throw ValidationError("--init-from \(initFrom ?? ""): \(message)")
        } catch .state(let error) {
            throw ValidationError("--state \(error.description)")
        }
        let server = try gradserve.makeServer(configuration.http, logger: logger)
        server.start()
        print("listening on \(host):\(server.port)")
        fflush(nil)
        logger.info("serving", metadata: [
            "model": "\(configuration.network)", "optimizer": "\(configuration.optimizer.kind)",
            "threads": "\(configuration.http.threads)",
        ])

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("stopping: finishing requests in flight", metadata: ["signal": "\(received)"])
        server.stop()
        server.wait()
        gradserve.finish()
        logger.info("stopped")
    }
}

extension Initialization: ExpressibleByArgument {}
extension GCN.Readout: ExpressibleByArgument {}
extension StateDirectory.Sync: ExpressibleByArgument {}
extension OptimizerConfiguration.Kind: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
