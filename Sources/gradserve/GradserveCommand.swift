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

    static func main() {
        BLAS.configure()  // Before anything else: OpenBLAS's idle thread pool would spin on a core.
        LargeBlocks.keep(oneArena: false)
        main(nil)
    }

    @Option(help: ArgumentHelp("IPv4 address to listen on. Anything but loopback exposes the server: put TLS in front.", valueName: "address"))
    var host = "127.0.0.1"
    @Option(help: ArgumentHelp("TCP port to listen on, 0 to 65535; 0 picks a free one (printed on the first line of stdout).", valueName: "port"))
    var port: UInt16 = 8080
    @Option(help: ArgumentHelp(
        "mlp (dense, samples {\"x\": [...]}) or gcn (graph convolutions, samples {\"nodes\": [[...]], \"edges\": [[i, j]]}).",
        valueName: "kind"))
    var model: ModelKind = .mlp
    @Option(help: ArgumentHelp("mlp: sizes D,H1,...,Hn: the inputs, then the widths of 1 to 16 hidden layers, each 1 to 65536.", valueName: "sizes"))
    var layers = "3,3,3"
    @Option(help: ArgumentHelp("gcn: features per node, 1 to 65536.", valueName: "n"))
    var features = 23
    @Option(help: ArgumentHelp("gcn: widths of the graph-convolution layers, 1 to 16 of them, each 1 to 65536.", valueName: "sizes"))
    var hidden = "64,64"
    @Option(help: ArgumentHelp("gcn: how node states become the graph's: sum or mean over nodes.", valueName: "readout"))
    var readout: GCN.Readout = .sum
    @Option(help: ArgumentHelp("gcn: most nodes in one graph (1 or more); larger graphs are refused with 422.", valueName: "nodes"))
    var maxNodes = 10_000
    @Option(help: ArgumentHelp("gcn: most edges in one graph (0 or more); larger graphs are refused with 422.", valueName: "edges"))
    var maxEdges = 100_000
    @Option(help: ArgumentHelp("The hidden layers' activation: tanh, relu, gelu (exact, x·Φ(x)) or sigmoid.", valueName: "function"))
    var activation: Activation = .tanh
    @Option(help: ArgumentHelp("Outputs K per sample, 1 to 65536 (the classes of a softmax classifier, at least 2).", valueName: "k"))
    var outputs = 1
    @Option(help: ArgumentHelp(
        "Per-sample loss: squared_error (Σ (y_k - t_k)², t a number or a list of K), softmax_cross_entropy (t a class index in [0, K)) or sigmoid_cross_entropy (t a number or a list of K in [0, 1]).",
        valueName: "loss"))
    var loss: Loss = .squaredError
    @Flag(inversion: .prefixedNo, help: "Give the output layer a bias b(n+1) of K values (default: off for mlp, on for gcn).")
    var outputBias: Bool?
    @Option(help: ArgumentHelp("Seed of the initial parameters, any 64-bit unsigned integer.", valueName: "seed"))
    var seed: UInt64 = 42
    @Option(name: .customLong("init"), help: ArgumentHelp("Initial weights: glorot (uniform, scaled by fan-in and fan-out) or uniform01 (uniform in [0,1)); biases start at zero.",
                                                          valueName: "scheme"))
    var initialization: Initialization = .glorot
    @Option(help: ArgumentHelp("sgd, momentum or adam.", valueName: "kind"))
    var optimizer: OptimizerConfiguration.Kind = .sgd
    @Option(help: ArgumentHelp("Learning rate, a finite number above 0 (the rate of the first step under a schedule).", valueName: "rate"))
    var lr: Float = 0.001
    @Option(help: ArgumentHelp("Momentum coefficient of the momentum optimizer, in [0, 1).", valueName: "coefficient"))
    var momentum: Float = 0.9
    @Option(help: ArgumentHelp("Adam's decay of the first moment, in [0, 1).", valueName: "beta1"))
    var beta1: Float = 0.9
    @Option(help: ArgumentHelp("Adam's decay of the second moment, in [0, 1).", valueName: "beta2"))
    var beta2: Float = 0.999
    @Option(help: ArgumentHelp("Adam's epsilon, a finite number above 0.", valueName: "epsilon"))
    var epsilon: Float = 1e-8
    @Option(help: ArgumentHelp("Scale each posted gradient down to this global L2 norm when above it, a finite number above 0 (default: no clipping).",
                               valueName: "norm"))
    var clipNorm: Float?
    @Option(help: ArgumentHelp("Learning-rate schedule: constant, or cosine (decays from --lr to --lr x --lr-final-factor over --lr-decay-steps steps, then stays).",
                               valueName: "schedule"))
    var lrSchedule: ScheduleKind = .constant
    @Option(help: ArgumentHelp("Cosine schedule: optimizer steps over which the rate decays, 1 or more.", valueName: "steps"))
    var lrDecaySteps = 1000
    @Option(help: ArgumentHelp("Cosine schedule: final rate as a fraction of --lr, in [0, 1].", valueName: "fraction"))
    var lrFinalFactor: Float = 0.0
    @Option(help: ArgumentHelp("Versions an /apply base version may lag behind the current one, 0 or more (0: strictly synchronous).",
                               valueName: "versions"))
    var maxStaleness = 0
    @Option(help: ArgumentHelp("Seconds a /step sent ahead of its turn (its if_version up to --max-staleness ahead) waits for the steps before it, 0.001 to 600; then it is answered 409.",
                               valueName: "seconds"))
    var stepWait = 10.0
    @Option(help: ArgumentHelp("Event-loop threads, 1 or more (default: one per core this process may use, after any cgroup CPU quota).", valueName: "threads"))
    var threads = Self.usableCores
    @Option(help: ArgumentHelp("Worker threads for requests with bodies of 16 KiB or more, 1 or more (default: one per core this process may use).", valueName: "threads"))
    var workers = Self.usableCores
    @Option(help: ArgumentHelp("Such requests that may wait for a worker, 0 or more; more are answered 503 with Retry-After.", valueName: "requests"))
    var maxQueuedRequests = 64
    @Option(help: ArgumentHelp("Microseconds an event loop keeps polling after an event before it sleeps, 0 to 10000 (0: sleep at once). Saves a wake-up per request when a client answers quickly; costs up to that much CPU per request. "
                               + "Default: 200, or 0 when a cgroup quota (a container's CPU limit) gives the server less than one core, since polling would spend the quota the work needs.",
                               valueName: "microseconds"))
    var busyPoll: Int?

    /// --busy-poll, or its default for the CPU this process may use.
    var busyPollMicroseconds: Int { busyPoll ?? (Self.cpuQuota.map { $0 < 1 } == true ? 0 : 200) }
    static let cpuQuota = CPUQuota.cores()
    /// The cores, or fewer when a quota allows less (a quarter of a core is one thread).
    static var usableCores: Int { min(HTTPServer.coreCount, cpuQuota.map { max(1, Int($0.rounded(.up))) } ?? HTTPServer.coreCount) }
    @Option(help: ArgumentHelp("Milliseconds, 0 to 10000: a request with a body of 16 KiB or more is answered on its event loop instead of a worker "
        + "when its connection's last such request to the same path, scaled to its size, took less (0: always a worker).", valueName: "ms"))
    var inlineBudget = 2.0
    @Option(help: ArgumentHelp("Largest request body in bytes, 1 or more; larger bodies are answered 413.", valueName: "bytes"))
    var maxBodyBytes = 64 * 1024 * 1024
    @Option(help: ArgumentHelp("Most samples in one request, 1 or more; more are answered 400.", valueName: "samples"))
    var maxSamples = 100_000
    @Option(help: ArgumentHelp("Most gradient values (samples x parameters) in one per-sample /gradients answer, 1 or more; more are answered 422 (reduce: sum has no such limit).",
                               valueName: "values"))
    var maxGradientValues = 1 << 25
    @Option(help: ArgumentHelp("Seconds a request may take to arrive, and a response to be read, above 0.", valueName: "seconds"))
    var requestTimeout = 30.0
    @Option(help: ArgumentHelp("Seconds an idle keep-alive connection stays open, above 0.", valueName: "seconds"))
    var idleTimeout = 120.0
    @Option(help: ArgumentHelp("Folder that keeps the parameters, optimizer state and version across restarts (created if missing; resumed on start).",
                               valueName: "dir"))
    var state: String?
    @Option(help: ArgumentHelp("With --state: always (a write is acknowledged once on disk) or interval (saved every second and on shutdown).",
                               valueName: "policy"))
    var fsync: StateDirectory.Sync = .interval
    @Option(help: ArgumentHelp("Start from this checkpoint file (written by gradctl checkpoint save) instead of the seed; a state already saved in --state wins.",
                               valueName: "file"))
    var initFrom: String?
    @Option(help: ArgumentHelp("File holding the bearer token that /apply, /step, PUT /params and PUT /checkpoint need (or set GRADSERVE_TOKEN); surrounding whitespace is ignored.",
                               valueName: "file"))
    var tokenFile: String?
    @Flag(help: "Require the token for the read endpoints too (all but /health).")
    var readToken = false
    @Option(help: ArgumentHelp("Least severe log level written to stderr: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    enum ScheduleKind: String, ExpressibleByArgument { case constant, cosine }
    enum ModelKind: String, ExpressibleByArgument { case mlp, gcn }

    func validate() throws {
        guard threads >= 1, workers >= 1 else { throw ValidationError("--threads and --workers must each be at least 1") }
        guard (0.001...600).contains(stepWait) else { throw ValidationError("--step-wait must be in 0.001...600 seconds, got \(stepWait)") }
        guard (0...10_000).contains(busyPollMicroseconds) else { throw ValidationError("--busy-poll must be in 0...10000 microseconds, got \(busyPollMicroseconds)") }
        guard (0...10_000).contains(inlineBudget) else { throw ValidationError("--inline-budget must be in 0...10000 milliseconds, got \(inlineBudget)") }
        guard maxQueuedRequests >= 0 else { throw ValidationError("--max-queued-requests must be at least 0") }
        guard maxBodyBytes >= 1, maxSamples >= 1, maxGradientValues >= 1 else {
            throw ValidationError("--max-body-bytes, --max-samples and --max-gradient-values must each be at least 1")
        }
        guard requestTimeout > 0, idleTimeout > 0 else { throw ValidationError("--request-timeout and --idle-timeout must be above 0 seconds") }
    }

    func makeConfiguration() throws -> GradserveConfiguration {
        var configuration = GradserveConfiguration()
        configuration.http.host = host
        configuration.http.port = port
        configuration.http.threads = threads
        configuration.http.workers = workers
        configuration.http.maxQueuedRequests = maxQueuedRequests
        configuration.http.busyPoll = .microseconds(busyPollMicroseconds)
        configuration.http.inlineBudget = .microseconds(Int64(inlineBudget * 1000))
        configuration.http.limits.maxBodyBytes = maxBodyBytes
        configuration.http.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        configuration.http.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        var options = NetworkOptions(activation: activation, outputs: outputs, loss: loss)
        switch model {
        case .mlp:
            options.outputBias = outputBias ?? false
            configuration.network = .mlp(layers: try SizeList.parse(layers, option: "--layers"), options: options)
        case .gcn:
            options.outputBias = outputBias ?? GCN.defaultOptions.outputBias
            configuration.network = .gcn(features: features, hidden: try SizeList.parse(hidden, option: "--hidden"),
                                         readout: readout, maxNodes: maxNodes, maxEdges: maxEdges, options: options)
        }
        configuration.initialization = initialization
        configuration.seed = seed
        configuration.optimizer = OptimizerConfiguration(
            kind: optimizer, learningRate: lr, momentum: momentum, beta1: beta1, beta2: beta2, epsilon: epsilon,
            clipNorm: clipNorm,
            schedule: lrSchedule == .cosine ? .cosine(decaySteps: lrDecaySteps, finalFactor: lrFinalFactor) : .constant)
        configuration.maxStaleness = maxStaleness
        configuration.requests.maxSamples = maxSamples
        configuration.requests.stepWait = .milliseconds(Int64(stepWait * 1000))
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
            "threads": "\(configuration.http.threads)", "busy-poll": "\(busyPollMicroseconds) µs",
            "cpu-quota": "\(Self.cpuQuota.map { String(format: "%.2f cores", $0) } ?? "none")",
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
extension Activation: ExpressibleByArgument {}
extension Loss: ExpressibleByArgument {}
extension GCN.Readout: ExpressibleByArgument {}
extension StateDirectory.Sync: ExpressibleByArgument {}
extension OptimizerConfiguration.Kind: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
